"""Policies the backend can serve and train: the built-in tiny model and
local Hugging Face causal LMs. A Policy bundles the trainable model, a value
head (used by PPO), a frozen reference for the KL terms, the tokenizer with
its chat template and trainable mask, and token-by-token generation."""

import contextlib
import copy
import json
import logging
import os

import torch
import torch.nn as nn

from . import safetensors_io, tiny
from .chat import PayloadError

log = logging.getLogger("reagent_backend.policy")


def resolve_device(name):
    """cpu, cuda, cuda:N, or auto (cuda when torch sees a GPU, else cpu)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device %s asked for, but torch.cuda.is_available() is false" % name)
    return torch.device(name)


class Policy:
    """Common interface; see TinyPolicy and HFPolicy."""

    kind = ""
    name = ""
    max_seq = 0
    pad_id = 0
    stop_ids = ()
    # Tokens generation never produces (padding, BOS, role markers): the chat
    # template could not write them back into a message.
    banned_ids = ()

    def __init__(self, device):
        self.device = device
        self.model = None
        self.value_head = None
        self._ref = None

    # --- tokenization -----------------------------------------------------
    def encode_chat(self, messages, trainable=None, add_generation_prompt=False, tools=None):
        raise NotImplementedError

    def decode(self, ids):
        raise NotImplementedError

    def token_str(self, i):
        raise NotImplementedError

    def token_bytes(self, i):
        raise NotImplementedError

    # --- model ------------------------------------------------------------
    def forward(self, ids, attn, want_hidden=True):
        """Return (logits [B,T,V], final hidden [B,T,d] or None) with
        gradients."""
        raise NotImplementedError

    def ref_logits(self, ids, attn):
        """Logits of the frozen reference model (no gradients)."""
        raise NotImplementedError

    def gen_step(self, ids, past):
        """One generation step: (logits of the last position [B,V], past)."""
        raise NotImplementedError

    def values(self, hidden):
        return self.value_head(hidden.to(self.value_head.weight.dtype)).squeeze(-1).float()

    def parameters(self):
        ps = [p for p in self.model.parameters() if p.requires_grad]
        return ps + list(self.value_head.parameters())

    def train_mode(self, on):
        self.model.train(on)

    # --- persistence ------------------------------------------------------
    def save(self, out_dir):
        raise NotImplementedError

    def describe(self):
        return {"kind": self.kind, "name": self.name, "device": str(self.device), "max_seq": self.max_seq}


def _zero_dropout(module):
    for m in module.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0


class TinyPolicy(Policy):
    """The built-in model of docs/tiny-model.md."""

    kind = "tiny"

    def __init__(self, device, config=None, init_dir="", seed=0, gradient_checkpointing=False):
        super().__init__(device)
        self.tok = tiny.TinyTokenizer()
        self.name = "tiny"
        vh = {}
        if init_dir:
            self.model, vh = tiny.load(init_dir)
        else:
            self.model = tiny.TinyLM(config)
            self.model.init_weights(torch.Generator().manual_seed(seed))
        self.model.to(device)
        self.model.gradient_checkpointing = gradient_checkpointing
        d = self.model.config["d_model"]
        self.value_head = nn.Linear(d, 1).to(device)
        with torch.no_grad():
            if vh:
                self.value_head.weight.copy_(vh["value_head.weight"])
                self.value_head.bias.copy_(vh["value_head.bias"])
            else:
                g = torch.Generator().manual_seed(seed + 1)
                self.value_head.weight.copy_(torch.randn(1, d, generator=g) * 0.02)
                self.value_head.bias.zero_()
        self.max_seq = self.model.config["max_seq"]
        self.pad_id = tiny.PAD
        self.stop_ids = tiny.TinyTokenizer.stop_ids
        self.banned_ids = (tiny.PAD, tiny.BOS, tiny.SYSTEM, tiny.USER, tiny.ASSISTANT, tiny.TOOL)
        self.set_reference(None)

    def set_reference(self, state_dict):
        """Freeze a copy of the current weights (or of state_dict) as π_ref."""
        ref = copy.deepcopy(self.model)
        if state_dict is not None:
            ref.load_state_dict(state_dict)
        ref.eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        self._ref = ref

    def encode_chat(self, messages, trainable=None, add_generation_prompt=False, tools=None):
        return self.tok.encode_chat(messages, trainable, add_generation_prompt)

    def decode(self, ids):
        return self.tok.decode(ids)

    def token_str(self, i):
        return self.tok.token_str(i)

    def token_bytes(self, i):
        return self.tok.token_bytes(i)

    def forward(self, ids, attn, want_hidden=True):
        logits, h, _ = self.model(ids)
        return logits, h

    def ref_logits(self, ids, attn):
        with torch.no_grad():
            return self._ref(ids)[0]

    def gen_step(self, ids, past):
        logits, _, past = self.model(ids, past)
        return logits[:, -1], past

    def save(self, out_dir):
        tiny.save(self.model, os.path.join(out_dir, "model.safetensors"), value_head=self.value_head)
        tiny.save(self._ref, os.path.join(out_dir, "reference.safetensors"))
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(self.model.config, f, indent=2, sort_keys=True)

    @classmethod
    def from_checkpoint(cls, device, ckpt_dir, gradient_checkpointing=False):
        p = cls(device, init_dir=ckpt_dir, gradient_checkpointing=gradient_checkpointing)
        ref_path = os.path.join(ckpt_dir, "reference.safetensors")
        if os.path.exists(ref_path):
            ref_model, _ = tiny.load(ref_path)
            p.set_reference(ref_model.state_dict())
        return p


# Models whose chat template has no tool support (SmolLM2 among them) learned
# tool calling from a system prompt that lists the tools in <tools>…</tools>
# and answers with <tool_call>[{"name": …, "arguments": {…}}]</tool_call>;
# the backend writes that prompt and that form itself for them.
TOOL_PROMPT = """You can call functions. These are the functions you have:
<tools>%s</tools>

To call one or more of them, answer with only this, and nothing else:
<tool_call>[{"name": "function_name", "arguments": {"argument": "value"}}]</tool_call>
When no call is needed, answer the question directly."""


def tool_calls_text(calls):
    """The <tool_call>[...]</tool_call> form of a message's tool calls."""
    out = []
    for c in calls:
        try:
            args = json.loads(c["arguments"]) if c["arguments"] else {}
        except ValueError:
            args = c["arguments"]
        out.append({"name": c["name"], "arguments": args})
    return "<tool_call>%s</tool_call>" % json.dumps(out, ensure_ascii=False)


def _hf_message(m, native_tools=True):
    out = {"role": m["role"], "content": m["content"]}
    if m.get("name"):
        out["name"] = m["name"]
    if m.get("tool_call_id"):
        out["tool_call_id"] = m["tool_call_id"]
    if m.get("tool_calls"):
        if not native_tools:
            text = tool_calls_text(m["tool_calls"])
            out["content"] = (m["content"] + "\n" + text) if m["content"] else text
            return out
        calls = []
        for c in m["tool_calls"]:
            try:
                args = json.loads(c["arguments"]) if c["arguments"] else {}
            except ValueError:
                args = c["arguments"]
            calls.append({"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": args}})
        out["tool_calls"] = calls
    return out


def template_conversation(messages, tools, native_tools):
    """The messages as the chat template receives them, and for each input
    message the index of its rendered counterpart. Without native tool
    support the tool list goes into the system message (one is added at the
    front when there is none)."""
    conv = [_hf_message(m, native_tools) for m in messages]
    index = list(range(len(conv)))
    if tools and not native_tools:
        fns = [t.get("function", t) if isinstance(t, dict) else t for t in tools]
        prompt = TOOL_PROMPT % json.dumps(fns, ensure_ascii=False)
        if conv and conv[0]["role"] == "system":
            conv[0] = dict(conv[0], content=(conv[0]["content"] + "\n\n" + prompt) if conv[0]["content"] else prompt)
        else:
            conv.insert(0, {"role": "system", "content": prompt})
            index = [i + 1 for i in index]
    return conv, index


class HFPolicy(Policy):
    """A local Hugging Face causal LM (AutoModelForCausalLM + AutoTokenizer),
    full fine-tuning or LoRA (peft), any dtype, optional gradient
    checkpointing."""

    kind = "hf"

    def __init__(self, device, path="", model=None, tokenizer=None, dtype="auto", lora_rank=0, lora_alpha=0.0,
                 gradient_checkpointing=False, seed=0, weights_dir=""):
        super().__init__(device)
        try:
            import transformers
        except ImportError as e:
            raise RuntimeError("--model %s needs the transformers package (pip install transformers)" % path) from e
        self.path = path
        self.name = os.path.basename(os.path.normpath(path)) if path else "hf-model"
        src = os.path.join(path, "reagent-source.json") if path else ""
        if src and os.path.isfile(src):  # a converted GGUF file: named after the file
            with open(src) as f:
                self.name = os.path.splitext(os.path.basename(json.load(f).get("gguf", self.name)))[0] or self.name
        # "auto" on CUDA: full fine-tuning keeps float32 master weights and
        # runs forward/backward under bf16 autocast (pure bf16 weights would
        # round away updates at RL learning rates); LoRA keeps the frozen
        # base in bf16. An explicit dtype means pure weights of that dtype.
        self.amp = None
        if dtype == "auto":
            if device.type == "cuda":
                dt = torch.bfloat16 if lora_rank > 0 else torch.float32
                self.amp = torch.bfloat16
            else:
                dt = torch.float32
        else:
            dt = getattr(torch, dtype)
        if model is None:
            src = weights_dir or path
            model = _from_pretrained(transformers, src, dt)
        if tokenizer is None and path:
            tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        self.tok = tokenizer
        tmpl = getattr(tokenizer, "chat_template", None) or ""
        # A template that reads both the tool list and the calls handles
        # tools natively; for any other the backend writes them (TOOL_PROMPT).
        self.native_tools = isinstance(tmpl, str) and "tools" in tmpl and "tool_calls" in tmpl
        _zero_dropout(model)
        model.to(device)
        self.lora = lora_rank > 0
        if gradient_checkpointing:
            model.gradient_checkpointing_enable()
            if hasattr(model, "enable_input_require_grads"):
                model.enable_input_require_grads()
            model.config.use_cache = False
        if self.lora:
            try:
                import peft
            except ImportError as e:
                raise RuntimeError("--lora-rank needs the peft package (pip install peft)") from e
            cfg = peft.LoraConfig(r=lora_rank, lora_alpha=lora_alpha or 2 * lora_rank, lora_dropout=0.0,
                                  target_modules="all-linear", task_type="CAUSAL_LM")
            model = peft.get_peft_model(model, cfg)
        self.model = model
        hidden = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.get_input_embeddings().weight.shape[1]
        self.value_head = nn.Linear(hidden, 1).to(device=device, dtype=torch.float32)
        with torch.no_grad():
            g = torch.Generator().manual_seed(seed + 1)
            self.value_head.weight.copy_(torch.randn(1, hidden, generator=g) * 0.02)
            self.value_head.bias.zero_()
        self.max_seq = int(getattr(model.config, "max_position_embeddings", 0) or 4096)
        if tokenizer is not None:
            self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
            stops = {tokenizer.eos_token_id}
            gen_cfg = getattr(model, "generation_config", None)
            eos = getattr(gen_cfg, "eos_token_id", None) if gen_cfg is not None else None
            if isinstance(eos, int):
                stops.add(eos)
            elif isinstance(eos, (list, tuple)):
                stops.update(eos)
            self.stop_ids = tuple(s for s in stops if s is not None)
        else:
            self.pad_id = 0
            self.stop_ids = ()
        if not self.lora:
            # π_ref is the starting point: the base weights, even when this
            # run resumes trained weights from a checkpoint.
            ref_dt = self.amp or dt  # the frozen copy needs no float32 master
            if weights_dir and path:
                ref = _from_pretrained(transformers, path, ref_dt).to(device)
            else:
                ref = copy.deepcopy(model).to(ref_dt)
            ref.eval()
            for p in ref.parameters():
                p.requires_grad_(False)
            self._ref = ref

    def encode_chat(self, messages, trainable=None, add_generation_prompt=False, tools=None):
        if self.tok is None:
            raise PayloadError("this model was built without a tokenizer")
        conv, index = template_conversation(messages, tools, self.native_tools)
        kw = {"tools": tools} if tools and self.native_tools else {}

        def render(msgs, gen):
            if not msgs:
                return ""
            return self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen, **kw)

        text = render(conv, add_generation_prompt)
        spans = []
        for i, m in enumerate(messages):
            train = m["role"] == "assistant" if trainable is None else bool(trainable[i])
            if not train:
                continue
            k = index[i]
            start = len(render(conv[:k], True)) if k else 0
            full_i = render(conv[: k + 1], False)
            if not text.startswith(full_i) or not full_i.startswith(render(conv[:k], True) if k else ""):
                raise PayloadError("the model's chat template does not render messages[%d] as a prefix of the whole "
                                   "conversation, so its trainable tokens cannot be located" % i)
            spans.append((start, len(full_i)))
        fast = bool(getattr(self.tok, "is_fast", False))
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=bool(spans) and fast)
        ids = list(enc["input_ids"])
        mask = [0] * len(ids)
        if spans and fast:
            for j, (a, b) in enumerate(enc["offset_mapping"]):
                if b <= a:
                    continue
                for s, e in spans:
                    if a >= s and b <= e:
                        mask[j] = 1
                        break
        elif spans:
            # Slow tokenizers have no offsets: count the tokens of each prefix
            # (exact when turns end on special tokens, as chat templates do).
            def n_tokens(t):
                return len(self.tok(t, add_special_tokens=False)["input_ids"])

            for s, e in spans:
                for j in range(n_tokens(text[:s]), min(n_tokens(text[:e]), len(ids))):
                    mask[j] = 1
        return ids, mask

    def decode(self, ids):
        return self.tok.decode(ids, skip_special_tokens=True)

    def token_str(self, i):
        return self.tok.decode([i])

    def token_bytes(self, i):
        return self.tok.decode([i]).encode("utf-8")

    def _amp(self):
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp)

    def forward(self, ids, attn, want_hidden=True):
        with self._amp():
            out = self.model(input_ids=ids, attention_mask=attn, output_hidden_states=want_hidden, use_cache=False)
        return out.logits, (out.hidden_states[-1] if want_hidden else None)

    def ref_logits(self, ids, attn):
        with torch.no_grad(), self._amp():
            if self.lora:
                with self.model.disable_adapter():
                    return self.model(input_ids=ids, attention_mask=attn, use_cache=False).logits
            return self._ref(input_ids=ids, attention_mask=attn, use_cache=False).logits

    def gen_step(self, ids, past):
        with self._amp():
            out = self.model(input_ids=ids, past_key_values=past, use_cache=True)
        return out.logits[:, -1], out.past_key_values

    def save(self, out_dir):
        sub = os.path.join(out_dir, "adapter" if self.lora else "model")
        self.model.save_pretrained(sub)
        if self.tok is not None:
            self.tok.save_pretrained(sub)
        safetensors_io.save({"value_head.weight": self.value_head.weight.detach().float(),
                             "value_head.bias": self.value_head.bias.detach().float()},
                            os.path.join(out_dir, "value_head.safetensors"))

    def load_checkpoint(self, ckpt_dir):
        vh, _ = safetensors_io.load(os.path.join(ckpt_dir, "value_head.safetensors"))
        with torch.no_grad():
            self.value_head.weight.copy_(vh["value_head.weight"])
            self.value_head.bias.copy_(vh["value_head.bias"])
        if self.lora:
            import peft

            adapter = os.path.join(ckpt_dir, "adapter")
            peft.set_peft_model_state_dict(self.model, _load_adapter(adapter))


def _from_pretrained(transformers, src, dt):
    # transformers 4.56 renamed torch_dtype to dtype.
    try:
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    except ValueError:
        major, minor = 4, 0
    key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    return transformers.AutoModelForCausalLM.from_pretrained(src, **{key: dt})


def _load_adapter(adapter_dir):
    st = os.path.join(adapter_dir, "adapter_model.safetensors")
    if os.path.exists(st):
        return safetensors_io.load(st)[0]
    return torch.load(os.path.join(adapter_dir, "adapter_model.bin"), map_location="cpu")


def build(args, ckpt_dir=""):
    """Build the policy named by command-line args, resuming from ckpt_dir
    when it holds a checkpoint."""
    device = resolve_device(args.device)
    gc = bool(getattr(args, "gradient_checkpointing", False))
    if args.model == "tiny":
        if ckpt_dir:
            return TinyPolicy.from_checkpoint(device, ckpt_dir, gradient_checkpointing=gc)
        cfg = json.loads(args.tiny_config) if getattr(args, "tiny_config", "") else None
        return TinyPolicy(device, config=cfg, init_dir=args.init, seed=args.seed, gradient_checkpointing=gc)
    from . import models

    path = models.resolve(args.model)  # a Hugging Face folder, or a GGUF file converted once
    weights = ""
    if ckpt_dir and args.lora_rank == 0 and os.path.isdir(os.path.join(ckpt_dir, "model")):
        weights = os.path.join(ckpt_dir, "model")
    p = HFPolicy(device, path=path, dtype=args.dtype, lora_rank=args.lora_rank, lora_alpha=args.lora_alpha,
                 gradient_checkpointing=gc, seed=args.seed, weights_dir=weights)
    if path != args.model:
        p.name = os.path.splitext(os.path.basename(os.path.normpath(args.model)))[0]
    if ckpt_dir:
        p.load_checkpoint(ckpt_dir)
    return p

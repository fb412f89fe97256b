"""The built-in "tiny" model: byte-level tokenizer, chat template and a
GPT-2-style pre-LayerNorm transformer, exactly as docs/tiny-model.md defines
them (the pure-Go agents/tinylm computes the same logits)."""

import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import safetensors_io
from .chat import tool_call_text

PAD, BOS, EOS, SYSTEM, USER, ASSISTANT, TOOL, END = 256, 257, 258, 259, 260, 261, 262, 263
VOCAB_SIZE = 264
ROLE_TOKEN = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT, "tool": TOOL}
SPECIAL_NAMES = {
    PAD: "<|pad|>",
    BOS: "<|bos|>",
    EOS: "<|eos|>",
    SYSTEM: "<|system|>",
    USER: "<|user|>",
    ASSISTANT: "<|assistant|>",
    TOOL: "<|tool|>",
    END: "<|end|>",
}

DEFAULT_CONFIG = {"vocab_size": VOCAB_SIZE, "d_model": 128, "n_layer": 4, "n_head": 4, "max_seq": 1024,
                  "prev_tokens": 0}
MAX_PREV_TOKENS = 8
SHAPE_KEYS = ("vocab_size", "d_model", "n_layer", "n_head", "max_seq")


class TinyTokenizer:
    """Byte-level tokenizer with the tiny model's special tokens."""

    vocab_size = VOCAB_SIZE
    pad_id = PAD
    bos_id = BOS
    eos_id = EOS
    end_id = END
    # Generation stops at the end of the assistant's message (or a stray EOS).
    stop_ids = (END, EOS)

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")

    def token_bytes(self, i):
        """The raw bytes of token i (special tokens: their UTF-8 name)."""
        if 0 <= i < 256:
            return bytes([i])
        return SPECIAL_NAMES.get(i, "<|%d|>" % i).encode("utf-8")

    def token_str(self, i):
        if 0 <= i < 256:
            return bytes([i]).decode("latin-1") if i < 128 else "\\x%02x" % i
        return SPECIAL_NAMES.get(i, "<|%d|>" % i)

    def message_body(self, m, name=""):
        """The content bytes of one normalized message, per the template; a
        tool message shows its name, or else name (the name of the call it
        answers)."""
        text = m["content"]
        name = m.get("name") or name
        if m["role"] == "tool" and name:
            text = "[%s] %s" % (name, text)
        if m["role"] == "assistant":
            for c in m.get("tool_calls") or []:
                text += tool_call_text(c)
        return self.encode(text)

    def encode_chat(self, messages, trainable=None, add_generation_prompt=False):
        """Token ids of normalized messages and a 0/1 list marking trainable
        tokens (the body and closing <|end|> of trainable assistant messages).
        A tool message without a name takes the name of the call it answers
        (its tool_call_id): OpenAI clients send results with the id only."""
        ids, mask = [BOS], [0]
        call_names = {}
        for i, m in enumerate(messages):
            train = m["role"] == "assistant" if trainable is None else bool(trainable[i])
            for c in m.get("tool_calls") or []:
                if c.get("id"):
                    call_names[c["id"]] = c["name"]
            body = self.message_body(m, call_names.get(m.get("tool_call_id") or "", "")) + [END]
            ids.append(ROLE_TOKEN[m["role"]])
            mask.append(0)
            ids.extend(body)
            mask.extend([1 if train else 0] * len(body))
        if add_generation_prompt:
            ids.append(ASSISTANT)
            mask.append(0)
        return ids, mask


def check_config(cfg):
    """Validate and complete a tiny config dict. The older spelling
    prev_token_emb (true or false) reads as prev_tokens 1 or 0."""
    cfg = dict(cfg or {})
    if "prev_token_emb" in cfg:
        legacy = cfg.pop("prev_token_emb")
        if not isinstance(legacy, bool):
            raise ValueError("tiny config: prev_token_emb must be true or false, got %r" % (legacy,))
        if "prev_tokens" in cfg and cfg["prev_tokens"] != int(legacy):
            raise ValueError("tiny config: prev_token_emb %r contradicts prev_tokens %r" % (legacy, cfg["prev_tokens"]))
        cfg["prev_tokens"] = int(legacy)
    out = dict(DEFAULT_CONFIG)
    out.update(cfg)
    for k in SHAPE_KEYS:
        v = out[k]
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError("tiny config: %s must be a positive integer, got %r" % (k, v))
    n = out["prev_tokens"]
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_PREV_TOKENS:
        raise ValueError("tiny config: prev_tokens must be an integer from 0 to %d, got %r" % (MAX_PREV_TOKENS, n))
    if out["vocab_size"] != VOCAB_SIZE:
        raise ValueError("tiny config: vocab_size must be %d" % VOCAB_SIZE)
    if out["d_model"] % out["n_head"]:
        raise ValueError("tiny config: d_model %d is not divisible by n_head %d" % (out["d_model"], out["n_head"]))
    return {k: out[k] for k in DEFAULT_CONFIG}


class Attention(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x, past=None, exact=False):
        B, T, D = x.shape
        hd = D // self.n_head
        q, k, v = self.qkv(x).split(D, dim=2)
        q = q.view(B, T, self.n_head, hd).transpose(1, 2)
        k = k.view(B, T, self.n_head, hd).transpose(1, 2)
        v = v.view(B, T, self.n_head, hd).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        S = k.shape[2]
        sdpa = getattr(F, "scaled_dot_product_attention", None)
        if sdpa is not None and not exact and (T == S or T == 1):
            y = sdpa(q, k, v, is_causal=(T == S and T > 1))
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            # Query i sits at absolute position S-T+i and sees keys 0..S-T+i.
            causal = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
            att = att.masked_fill(~causal, float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(B, T, D)
        return self.proj(y), present


class MLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, 4 * d)
        self.proj = nn.Linear(4 * d, d)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = Attention(d, n_head)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = MLP(d)

    def forward(self, x, past=None, exact=False):
        a, present = self.attn(self.ln1(x), past, exact)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x, present


class Past(list):
    """The per-layer (k, v) caches of a forward pass, and the last
    prev_tokens ids of each row (PAD before the sequence's start): the
    previous tokens of the next call's first positions."""

    last = None


class TinyLM(nn.Module):
    """GPT-2-style pre-LN transformer with tied output embedding and, when
    the config asks for it (prev_tokens = n > 0), an embedding of each of a
    position's n previous tokens: prev_emb for the token before, prev_emb2
    for the one before that, and so on. They let one attention layer match
    "the token after an earlier occurrence of these n", the step of copying
    a string, on more than one byte of context."""

    def __init__(self, config=None):
        super().__init__()
        self.config = check_config(config)
        d = self.config["d_model"]
        self.tok_emb = nn.Embedding(VOCAB_SIZE, d)
        self.pos_emb = nn.Embedding(self.config["max_seq"], d)
        for k in range(1, self.config["prev_tokens"] + 1):
            setattr(self, _prev_name(k), nn.Embedding(VOCAB_SIZE, d))
        self.blocks = nn.ModuleList(Block(d, self.config["n_head"]) for _ in range(self.config["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.gradient_checkpointing = False

    def init_weights(self, generator=None):
        """GPT-2 initialisation: N(0, 0.02), residual projections scaled by
        1/sqrt(2·n_layer), zero biases, unit LayerNorms."""
        std = 0.02
        for name, p in self.named_parameters():
            with torch.no_grad():
                if name.endswith(".bias") or name.startswith("ln_f.bias"):
                    p.zero_()
                elif ".ln" in name or name.startswith("ln_f"):
                    p.fill_(1.0)
                else:
                    s = std / math.sqrt(2 * self.config["n_layer"]) if name.endswith("proj.weight") else std
                    p.copy_(torch.randn(p.shape, generator=generator) * s)

    def forward(self, ids, past=None, exact=False):
        """Return (logits [B,T,V], final hidden state [B,T,d], new past)."""
        B, T = ids.shape
        start = 0 if past is None else past[0][0].shape[2]
        if start + T > self.config["max_seq"]:
            raise ValueError("sequence of %d tokens exceeds max_seq %d" % (start + T, self.config["max_seq"]))
        pos = torch.arange(start, start + T, device=ids.device)
        x = self.tok_emb(ids) + self.pos_emb(pos)[None]
        presents = Past()
        n = self.config["prev_tokens"]
        if n:
            # Before a sequence's first position every previous token is PAD.
            hist = torch.full((B, n), PAD, dtype=ids.dtype, device=ids.device) if past is None else past.last
            seq = torch.cat([hist, ids], dim=1)
            for k in range(1, n + 1):
                x = x + getattr(self, _prev_name(k))(seq[:, n - k:n - k + T])
            presents.last = seq[:, -n:]
        for i, block in enumerate(self.blocks):
            p = None if past is None else past[i]
            if self.gradient_checkpointing and self.training and past is None:
                x, pr = _checkpoint(block, x)
            else:
                x, pr = block(x, p, exact)
            presents.append(pr)
        h = self.ln_f(x)
        logits = h @ self.tok_emb.weight.t()
        return logits, h, presents

    def num_params(self):
        return sum(p.numel() for p in self.parameters())


def _prev_name(k):
    """The module of the k-th previous token's embedding (tensor NAME.weight)."""
    return "prev_emb" if k == 1 else "prev_emb%d" % k


def _checkpoint(block, x):
    from torch.utils.checkpoint import checkpoint

    y = checkpoint(lambda t: block(t)[0], x)
    return y, None


def save(model, path, value_head=None, extra=None):
    """Write the model (and an optional value head) as docs/tiny-model.md says."""
    tensors = {k: v.detach().float() for k, v in model.state_dict().items()}
    if value_head is not None:
        tensors["value_head.weight"] = value_head.weight.detach().float()
        tensors["value_head.bias"] = value_head.bias.detach().float()
    for k, v in (extra or {}).items():
        tensors[k] = v
    safetensors_io.save(tensors, path, metadata={"config": json.dumps(model.config, sort_keys=True)})


def load(path_or_dir):
    """Load a tiny model from a safetensors file or a folder holding
    model.safetensors (and config.json). Returns (model, value-head tensors)."""
    path = path_or_dir
    cfg = None
    if os.path.isdir(path_or_dir):
        path = os.path.join(path_or_dir, "model.safetensors")
        cpath = os.path.join(path_or_dir, "config.json")
        if os.path.exists(cpath):
            with open(cpath) as f:
                cfg = json.load(f)
    tensors, meta = safetensors_io.load(path)
    if cfg is None:
        if "config" not in meta:
            raise ValueError("%s: no config.json and no config in the safetensors metadata" % path)
        cfg = json.loads(meta["config"])
    model = TinyLM(cfg)
    vh = {k: tensors.pop(k) for k in list(tensors) if k.startswith("value_head.")}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise ValueError("%s: missing tensors %s, unexpected tensors %s" % (path, missing, unexpected))
    return model, vh

"""export-fixture: a tiny model with random weights and its reference logits,
for the pure-Go inference test (agents/tinylm)."""

import json
import os

import torch

from . import tiny
from .chat import normalize_messages

# Token-id inputs: plain bytes, specials, a chat-shaped prefix, a long run.
def _cases(max_seq):
    tok = tiny.TinyTokenizer()
    long_ids = [tiny.BOS] + [(i * 37 + 11) % 256 for i in range(min(max_seq, 128) - 1)]
    return [
        {"name": "single-bos", "ids": [tiny.BOS]},
        {"name": "hello", "ids": [tiny.BOS] + tok.encode("Hello, world!")},
        {"name": "specials", "ids": [tiny.BOS, tiny.SYSTEM, 65, tiny.END, tiny.USER, 0, 255, tiny.END, tiny.TOOL, tiny.EOS, tiny.PAD, tiny.ASSISTANT]},
        {"name": "utf8", "ids": [tiny.BOS] + tok.encode("héllo → 世界")},
        {"name": "long", "ids": long_ids},
    ]


CHATS = [
    {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "2+2?"},
        ],
        "add_generation_prompt": True,
    },
    {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}}],
            },
            {"role": "tool", "name": "weather", "tool_call_id": "c1", "content": "18°C, sunny"},
            {"role": "assistant", "content": "It is 18°C and sunny."},
        ],
        "add_generation_prompt": False,
    },
    {
        "messages": [
            {"role": "user", "content": "ping"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "a", "name": "t1", "arguments": "{}"}, {"id": "b", "name": "t2", "arguments": "{\"x\":1}"}]},
            {"role": "tool", "content": "no name here"},
            # No name, but the id of call b: rendered as "[t2] 5" (the name of
            # the call it answers), as the OpenAI API's clients send it.
            {"role": "tool", "tool_call_id": "b", "content": "5"},
        ],
        "add_generation_prompt": True,
    },
]


def randomize(model, seed):
    """Random weights with every parameter non-trivial (LayerNorm gains and
    biases too), so a mismatch anywhere shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if (".ln" in name or name.startswith("ln_f")) and name.endswith(".weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=g))


def export(out_dir, seed=0, config=None):
    """Write model.safetensors, config.json and fixture.json to out_dir."""
    cfg = tiny.check_config(config or {"d_model": 64, "n_layer": 2, "n_head": 4, "max_seq": 128})
    model = tiny.TinyLM(cfg)
    randomize(model, seed)
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    tiny.save(model, os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    tok = tiny.TinyTokenizer()
    cases = []
    with torch.no_grad():
        for c in _cases(cfg["max_seq"]):
            logits, _, _ = model(torch.tensor([c["ids"]]), exact=True)
            cases.append({"name": c["name"], "ids": c["ids"], "logits": [[float(x) for x in row] for row in logits[0]]})
    chats = []
    for c in CHATS:
        msgs = normalize_messages(c["messages"])
        ids, mask = tok.encode_chat(msgs, add_generation_prompt=c["add_generation_prompt"])
        chats.append({"messages": c["messages"], "add_generation_prompt": c["add_generation_prompt"], "ids": ids, "trainable": mask})
    fixture = {
        "format": "reagent-tiny-fixture/1",
        "seed": seed,
        "config": cfg,
        "tolerance": 1e-4,
        "cases": cases,
        "chat": chats,
    }
    with open(os.path.join(out_dir, "fixture.json"), "w") as f:
        json.dump(fixture, f)
        f.write("\n")
    return fixture

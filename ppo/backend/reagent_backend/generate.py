"""Sampling from a policy: temperature, top-p, stop strings, n choices,
log-probs, and tool calls parsed from <tool_call> blocks."""

import json
import re
import uuid

import torch
import torch.nn.functional as F

GREEDY_BELOW = 1e-4

_TOOL_CALL = re.compile(r"\n?<tool_call>\s*(.*?)\s*</tool_call>", re.S)


def _top_p_filter(probs, top_p):
    if top_p >= 1.0:
        return probs
    sp, si = torch.sort(probs, descending=True, dim=-1)
    cum = sp.cumsum(-1)
    # Keep the smallest prefix whose mass reaches top_p (always the top token).
    keep = (cum - sp) < top_p
    sp = sp * keep
    out = torch.zeros_like(probs).scatter(-1, si, sp)
    return out / out.sum(-1, keepdim=True)


@torch.no_grad()
def sample(policy, prompt_ids, n=1, max_tokens=256, temperature=1.0, top_p=1.0, stop=(), top_logprobs=0,
           want_logprobs=False, generator=None):
    """Generate n completions of prompt_ids. Returns a list of dicts with
    ids, text, finish_reason ("stop" or "length") and per-token log-probs.

    A temperature below GREEDY_BELOW is greedy decoding (clients that cannot
    send 0, such as go-openai, send the smallest positive float instead)."""
    if temperature < GREEDY_BELOW:
        temperature = 0.0
    policy.train_mode(False)
    dev = policy.device
    budget = min(max_tokens, policy.max_seq - len(prompt_ids))
    results = [{"ids": [], "finish": None, "logprobs": []} for _ in range(n)]
    if budget <= 0:
        for r in results:
            r["finish"] = "length"
        return _finish(policy, results, stop)
    ids = torch.tensor([prompt_ids] * n, device=dev)
    logits, past = policy.gen_step(ids, None)
    stops = set(policy.stop_ids)
    banned = list(policy.banned_ids)
    for step in range(budget):
        lg = logits.float()
        if banned:
            lg[:, banned] = float("-inf")
        logp = F.log_softmax(lg / temperature if temperature > 0 else lg, dim=-1)
        if temperature > 0:
            probs = _top_p_filter(logp.exp(), top_p)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        else:
            nxt = lg.argmax(-1)
        for b in range(n):
            r = results[b]
            if r["finish"]:
                continue
            tok = int(nxt[b])
            if tok in stops:
                r["finish"] = "stop"
                continue
            r["ids"].append(tok)
            if want_logprobs:
                entry = {"id": tok, "logprob": float(logp[b, tok])}
                if top_logprobs:
                    v, i = logp[b].topk(top_logprobs)
                    entry["top"] = [(int(j), float(x)) for x, j in zip(v.tolist(), i.tolist())]
                r["logprobs"].append(entry)
            if stop:
                text = policy.decode(r["ids"])
                if any(s in text for s in stop):
                    r["finish"] = "stop"
        if all(r["finish"] for r in results) or step == budget - 1:
            break
        logits, past = policy.gen_step(nxt[:, None], past)
    for r in results:
        if not r["finish"]:
            r["finish"] = "length"
    return _finish(policy, results, stop)


def _finish(policy, results, stop):
    for r in results:
        text = policy.decode(r["ids"])
        if stop:
            cut = min((text.find(s) for s in stop if s in text), default=-1)
            if cut >= 0:
                text = text[:cut]
        r["text"] = text
    return results


_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _raw_members(s, i):
    """The raw text of each member value of the JSON object that starts at
    s[i] (s already parsed as JSON, so well formed), as {key: text} (a
    repeated key keeps its last value, as json.loads does), and the index
    after the object."""
    out = {}
    i = _WS.match(s, i + 1).end()
    if s[i] == "}":
        return out, i + 1
    while True:
        key, i = _DECODER.raw_decode(s, i)
        i = _WS.match(s, _WS.match(s, i).end() + 1).end()  # past the colon
        _, j = _DECODER.raw_decode(s, i)
        out[key] = s[i:j]
        i = _WS.match(s, j).end()
        if s[i] == "}":
            return out, i + 1
        i = _WS.match(s, i + 1).end()  # past the comma


def _raw_calls(body):
    """The raw members of each object in a tool call block: the object
    itself, or each element of a list (None for an element that is not an
    object)."""
    i = _WS.match(body).end()
    if body[i] == "{":
        return [_raw_members(body, i)[0]]
    out = []
    i = _WS.match(body, i + 1).end()
    while body[i] != "]":
        if body[i] == "{":
            members, i = _raw_members(body, i)
            out.append(members)
        else:
            i = _DECODER.raw_decode(body, i)[1]
            out.append(None)
        i = _WS.match(body, i).end()
        if body[i] == ",":
            i = _WS.match(body, i + 1).end()
    return out


def parse_tool_calls(text):
    """Split <tool_call>…</tool_call> blocks out of a completion. A block
    holds one call {"name": ..., "arguments": ...} or a list of them (the
    form SmolLM2 and other models without native template support write).
    Returns (content, calls in the OpenAI shape); a block that does not
    parse, or holds anything but calls, stays in the content untouched.
    A call's arguments are the model's own text, byte for byte (a JSON
    string is unquoted; none or null is "{}"), as agents/tinylm returns
    them: the client sends them back in the next turn's prompt, which must
    read as the model wrote it."""
    calls = []

    def one(obj, raw):
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not obj["name"]:
            return None
        args = obj.get("arguments")
        if args is None:
            args = "{}"
        elif not isinstance(args, str):
            args = raw["arguments"]
        return {"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
                "function": {"name": obj["name"], "arguments": args}}

    def repl(m):
        try:
            obj = json.loads(m.group(1))
        except ValueError:
            return m.group(0)
        objs = obj if isinstance(obj, list) else [obj]
        raws = _raw_calls(m.group(1)) if isinstance(obj, (dict, list)) else []
        found = [one(o, r) for o, r in zip(objs, raws)] if len(raws) == len(objs) else [None]
        if not found or any(c is None for c in found):
            return m.group(0)
        calls.extend(found)
        return ""

    content = _TOOL_CALL.sub(repl, text)
    return content, calls

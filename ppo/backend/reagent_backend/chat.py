"""Chat payload validation shared by the policy server and the trainer.

Messages follow the OpenAI shape: {"role", "content", optional "name",
"tool_calls" (either the nested OpenAI form or reagent's flattened
{"id", "name", "arguments"}), "tool_call_id"}. Every check raises
PayloadError with a message that names the offending field.
"""

import json
import math

ROLES = ("system", "user", "assistant", "tool")


class PayloadError(ValueError):
    """A request body that cannot be applied; the server answers 400."""


def _content_text(content, where):
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # OpenAI content parts: keep the text parts, refuse everything else.
        parts = []
        for i, p in enumerate(content):
            if not isinstance(p, dict) or p.get("type") != "text" or not isinstance(p.get("text"), str):
                raise PayloadError("%s.content[%d]: only text parts are supported" % (where, i))
            parts.append(p["text"])
        return "".join(parts)
    raise PayloadError("%s.content: must be a string, got %s" % (where, type(content).__name__))


def normalize_tool_calls(calls, where):
    """Return tool calls as a list of {"id", "name", "arguments"} dicts."""
    if calls is None:
        return []
    if not isinstance(calls, list):
        raise PayloadError("%s.tool_calls: must be a list" % where)
    out = []
    for i, c in enumerate(calls):
        w = "%s.tool_calls[%d]" % (where, i)
        if not isinstance(c, dict):
            raise PayloadError("%s: must be an object" % w)
        fn = c.get("function")
        if isinstance(fn, dict):
            name, args = fn.get("name"), fn.get("arguments", "")
        else:
            name, args = c.get("name"), c.get("arguments", "")
        if not isinstance(name, str) or not name:
            raise PayloadError("%s: a tool call needs a non-empty string name" % w)
        if isinstance(args, (dict, list)):
            args = json.dumps(args, ensure_ascii=False)
        if not isinstance(args, str):
            raise PayloadError("%s.arguments: must be a string" % w)
        cid = c.get("id", "")
        if cid is None:
            cid = ""
        if not isinstance(cid, str):
            raise PayloadError("%s.id: must be a string" % w)
        out.append({"id": cid, "name": name, "arguments": args})
    return out


def normalize_messages(messages, where="messages"):
    """Validate a list of chat messages and return normalized copies."""
    if not isinstance(messages, list) or not messages:
        raise PayloadError("%s: must be a non-empty list of messages" % where)
    out = []
    for i, m in enumerate(messages):
        w = "%s[%d]" % (where, i)
        if not isinstance(m, dict):
            raise PayloadError("%s: must be an object" % w)
        role = m.get("role")
        if role not in ROLES:
            raise PayloadError("%s.role: must be one of %s, got %r" % (w, ", ".join(ROLES), role))
        name = m.get("name") or ""
        if not isinstance(name, str):
            raise PayloadError("%s.name: must be a string" % w)
        msg = {"role": role, "content": _content_text(m.get("content"), w), "name": name}
        calls = normalize_tool_calls(m.get("tool_calls"), w)
        if calls and role != "assistant":
            raise PayloadError("%s: only assistant messages carry tool_calls" % w)
        msg["tool_calls"] = calls
        tcid = m.get("tool_call_id") or ""
        if not isinstance(tcid, str):
            raise PayloadError("%s.tool_call_id: must be a string" % w)
        msg["tool_call_id"] = tcid
        out.append(msg)
    return out


def tool_call_text(call):
    """The tiny model's textual form of one tool call (docs/tiny-model.md)."""
    return '\n<tool_call>{"name": %s, "arguments": %s}</tool_call>' % (
        json.dumps(call["name"], ensure_ascii=False),
        call["arguments"],
    )


def require_number(obj, key, where, default, lo=None, hi=None, lo_open=False, integer=False):
    """Read an optional number from obj, checking type and range."""
    if key not in obj or obj[key] is None:
        return default
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PayloadError("%s.%s: must be a number" % (where, key))
    if integer:
        if isinstance(v, float):
            if not v.is_integer():
                raise PayloadError("%s.%s: must be an integer" % (where, key))
            v = int(v)
    else:
        v = float(v)
    if isinstance(v, float) and not math.isfinite(v):
        raise PayloadError("%s.%s: must be finite" % (where, key))
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise PayloadError("%s.%s: must be %s %s, got %s" % (where, key, ">" if lo_open else ">=", lo, v))
    if hi is not None and v > hi:
        raise PayloadError("%s.%s: must be <= %s, got %s" % (where, key, hi, v))
    return v

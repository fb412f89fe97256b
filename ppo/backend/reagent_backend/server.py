"""HTTP policy server and trainer.

Routes:
  GET  /health                -> {"status": "ok", ...}
  GET  /v1/models             -> OpenAI model list
  GET  /v1/step               -> {"step", "algo", "model", ...}
  POST /v1/chat/completions   -> OpenAI chat completion from the current weights
  POST /v1/train              -> one GRPO/PPO step, returns metrics
  POST /v1/checkpoint         -> {"dir": ...} saves weights, optimizer, step

One lock serialises everything that touches the model, so a chat request
waits for a running training step and always sees whole updates.
"""

import json
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from . import __version__, generate, policy as policy_mod
from .chat import PayloadError, normalize_messages, require_number
from .trainer import Trainer, is_checkpoint

log = logging.getLogger("reagent_backend.server")

MAX_BODY = 256 * 1024 * 1024


class Backend:
    """The policy, its trainer and the lock that guards both."""

    def __init__(self, pol, trainer, checkpoint_dir="", seed=0):
        self.policy = pol
        self.trainer = trainer
        self.checkpoint_dir = checkpoint_dir
        self.lock = threading.Lock()
        self.gen = torch.Generator(device=pol.device).manual_seed(seed)
        self.started = time.time()

    # --- chat completions -------------------------------------------------------
    def parse_chat(self, body):
        if not isinstance(body, dict):
            raise PayloadError("body: must be a JSON object")
        if body.get("stream"):
            raise PayloadError("stream: streaming is not supported by this backend")
        msgs = normalize_messages(body.get("messages"))
        req = {"messages": msgs}
        req["temperature"] = require_number(body, "temperature", "body", 1.0, lo=0.0, hi=2.0)
        req["top_p"] = require_number(body, "top_p", "body", 1.0, lo=0.0, hi=1.0, lo_open=True)
        mt = body.get("max_completion_tokens", body.get("max_tokens"))
        req["max_tokens"] = require_number({"max_tokens": mt}, "max_tokens", "body", 256, lo=1, integer=True)
        req["n"] = require_number(body, "n", "body", 1, lo=1, hi=64, integer=True)
        req["top_logprobs"] = require_number(body, "top_logprobs", "body", 0, lo=0, hi=20, integer=True)
        req["seed"] = require_number(body, "seed", "body", None, lo=0, integer=True)
        lp = body.get("logprobs", False)
        if lp is None:
            lp = False
        if not isinstance(lp, bool):
            raise PayloadError("logprobs: must be true or false")
        if req["top_logprobs"] and not lp:
            raise PayloadError("top_logprobs: needs logprobs: true")
        req["logprobs"] = lp
        stop = body.get("stop")
        if stop is None:
            stop = []
        elif isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
            raise PayloadError("stop: must be a non-empty string or a list of at most 4 non-empty strings")
        req["stop"] = stop
        tools = body.get("tools")
        if tools is not None and not isinstance(tools, list):
            raise PayloadError("tools: must be a list")
        req["tools"] = tools
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise PayloadError("model: must be a string")
        return req

    def chat(self, body):
        req = self.parse_chat(body)
        pol = self.policy
        ids, _ = pol.encode_chat(req["messages"], add_generation_prompt=True, tools=req["tools"])
        if len(ids) >= pol.max_seq:
            raise PayloadError("the prompt has %d tokens; the model's context is %d" % (len(ids), pol.max_seq))
        with self.lock:
            gen = self.gen
            if req["seed"] is not None:
                gen = torch.Generator(device=pol.device).manual_seed(req["seed"])
            outs = generate.sample(pol, ids, n=req["n"], max_tokens=req["max_tokens"], temperature=req["temperature"],
                                   top_p=req["top_p"], stop=req["stop"], top_logprobs=req["top_logprobs"],
                                   want_logprobs=req["logprobs"], generator=gen)
            step = self.trainer.step
        choices, completion = [], 0
        for i, o in enumerate(outs):
            completion += len(o["ids"])
            content, calls = generate.parse_tool_calls(o["text"])
            msg = {"role": "assistant", "content": content}
            finish = o["finish"]
            if calls:
                msg["tool_calls"] = calls
                if finish == "stop":
                    finish = "tool_calls"
            ch = {"index": i, "message": msg, "finish_reason": finish, "logprobs": None}
            if req["logprobs"]:
                ch["logprobs"] = {"content": [self._lp_entry(e) for e in o["logprobs"]]}
            choices.append(ch)
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.trainer.model_name,
            "system_fingerprint": "reagent-step-%d" % step,
            "choices": choices,
            "usage": {"prompt_tokens": len(ids), "completion_tokens": completion, "total_tokens": len(ids) + completion},
        }

    def _lp_entry(self, e):
        pol = self.policy
        out = {"token": pol.token_str(e["id"]), "logprob": e["logprob"], "bytes": list(pol.token_bytes(e["id"]))}
        out["top_logprobs"] = [{"token": pol.token_str(j), "logprob": x, "bytes": list(pol.token_bytes(j))} for j, x in e.get("top", [])]
        return out

    # --- training -------------------------------------------------------------
    def train(self, body):
        job = self.trainer.prepare(body)  # raises PayloadError before any change
        with self.lock:
            return self.trainer.train(job)

    def checkpoint(self, body):
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise PayloadError("body: must be a JSON object")
        d = body.get("dir") or self.checkpoint_dir
        if not isinstance(d, str) or not d:
            raise PayloadError("dir: give a folder (or start the server with --checkpoint DIR)")
        with self.lock:
            state = self.trainer.save_checkpoint(d)
        return {"dir": os.path.abspath(d), "step": state["step"], "algo": state["algo"], "model": state["model"]}

    def step_info(self):
        t = self.trainer
        return {"step": t.step, "optimizer_steps": t.optimizer_steps, "algo": t.algo, "model": t.model_name,
                "kind": self.policy.kind, "device": str(self.policy.device)}


def make_handler(backend):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "reagent-backend/" + __version__

        def log_message(self, fmt, *args):
            log.debug("%s %s", self.address_string(), fmt % args)

        def _send(self, code, obj):
            data = json.dumps(obj, allow_nan=False).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code, msg, kind="invalid_request_error"):
            # The body may be partly unread: do not reuse the connection.
            self.close_connection = True
            self._send(code, {"error": {"message": msg, "type": kind, "code": code}})

        def _body(self):
            n = self.headers.get("Content-Length")
            if n is None:
                raise PayloadError("a Content-Length header is required")
            try:
                n = int(n)
            except ValueError:
                raise PayloadError("bad Content-Length")
            if n < 0 or n > MAX_BODY:
                raise PayloadError("body too large (%d bytes, limit %d)" % (n, MAX_BODY))
            raw = self.rfile.read(n)
            if not raw.strip():
                return None
            try:
                return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
            except (UnicodeDecodeError, ValueError) as e:
                raise PayloadError("body is not valid JSON: %s" % e)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/health":
                info = backend.step_info()
                info.update({"status": "ok", "uptime_s": time.time() - backend.started})
                return self._send(200, info)
            if path == "/v1/step":
                return self._send(200, backend.step_info())
            if path == "/v1/models":
                return self._send(200, {"object": "list", "data": [
                    {"id": backend.trainer.model_name, "object": "model", "created": int(backend.started), "owned_by": "reagent"}]})
            self._error(404, "no route GET %s" % path, "not_found")

        def do_POST(self):
            path = self.path.split("?", 1)[0]
            routes = {"/v1/chat/completions": backend.chat, "/v1/train": backend.train, "/v1/checkpoint": backend.checkpoint}
            fn = routes.get(path)
            if fn is None:
                # Drain the body so the connection stays usable.
                try:
                    self._body()
                except PayloadError:
                    pass
                return self._error(404, "no route POST %s" % path, "not_found")
            try:
                body = self._body()
                if body is None and path != "/v1/checkpoint":
                    raise PayloadError("empty body: a JSON object is expected")
                out = fn(body)
            except PayloadError as e:
                return self._error(400, str(e))
            except Exception as e:  # a bug or a runtime failure (OOM): 500, logged
                log.error("%s failed: %s\n%s", path, e, traceback.format_exc())
                return self._error(500, "%s: %s" % (type(e).__name__, e), "server_error")
            self._send(200, out)

    return Handler


def _reject_constant(name):
    raise ValueError("%s is not allowed in JSON" % name)


def build_backend(args):
    ckpt = args.checkpoint if is_checkpoint(args.checkpoint) else ""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    pol = policy_mod.build(args, ckpt_dir=ckpt)
    algo, lr, seed = args.algo, args.lr, args.seed
    if ckpt:
        with open(os.path.join(ckpt, "state.json")) as f:
            kind = json.load(f).get("kind")
        if kind != pol.kind:
            raise RuntimeError("checkpoint %s holds a %r model, not %r" % (ckpt, kind, pol.kind))
    trainer = Trainer(pol, algo=algo, lr=lr, seed=seed)
    if ckpt:
        state = trainer.load_state(ckpt)
        log.info("resumed from %s at step %d", ckpt, state["step"])
    return Backend(pol, trainer, checkpoint_dir=args.checkpoint, seed=seed)


def main(args):
    try:
        backend = build_backend(args)
    except Exception as e:
        print("reagent_backend: %s" % e, file=sys.stderr)
        return 1
    httpd = ThreadingHTTPServer((args.host, args.port), make_handler(backend))
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    # The first stdout line tells a parent process where we listen.
    print(json.dumps({"listening": "http://%s:%d" % (args.host, port), "port": port, "model": backend.trainer.model_name,
                      "step": backend.trainer.step, "pid": os.getpid()}), flush=True)
    log.info("serving %s on %s:%d (%s, %s)", backend.trainer.model_name, args.host, port, backend.trainer.algo, backend.policy.device)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
    log.info("stopped")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's slow teardown of torch: nothing is left to save.
    os._exit(0)

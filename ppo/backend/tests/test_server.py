"""The HTTP contract: chat completions, training, checkpoints, errors."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from helpers import ROOT, LiveServer, chat_sample, make_backend, torch, weights_digest
from reagent_backend import server

TOOL_CHAT = [
    {"role": "system", "content": "You are a bot."},
    {"role": "user", "content": "weather?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c1", "name": "w", "content": "sunny"},
]


class HTTP(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.backend = make_backend(seed=3, checkpoint_dir=os.path.join(self.tmp.name, "default-ckpt"))
        self.srv = LiveServer(self.backend)

    def tearDown(self):
        self.srv.close()
        self.tmp.cleanup()

    def test_health_models_step(self):
        code, h = self.srv.request("GET", "/health")
        self.assertEqual((code, h["status"], h["step"]), (200, "ok", 0))
        code, m = self.srv.request("GET", "/v1/models")
        self.assertEqual(m["data"][0]["id"], "tiny")
        code, s = self.srv.request("GET", "/v1/step")
        self.assertEqual((s["step"], s["algo"], s["model"]), (0, "grpo", "tiny"))
        code, e = self.srv.request("GET", "/nope")
        self.assertEqual(code, 404)

    def test_chat_completion_shape(self):
        body = {"model": "tiny", "messages": TOOL_CHAT, "temperature": 0.8, "top_p": 0.9, "max_tokens": 12, "n": 3,
                "logprobs": True, "top_logprobs": 2, "seed": 5}
        code, r = self.srv.request("POST", "/v1/chat/completions", body)
        self.assertEqual(code, 200, r)
        self.assertEqual(r["object"], "chat.completion")
        self.assertEqual(len(r["choices"]), 3)
        total = 0
        for i, ch in enumerate(r["choices"]):
            self.assertEqual(ch["index"], i)
            self.assertEqual(ch["message"]["role"], "assistant")
            self.assertIsInstance(ch["message"]["content"], str)
            self.assertIn(ch["finish_reason"], ("stop", "length", "tool_calls"))
            lp = ch["logprobs"]["content"]
            total += len(lp)
            for e in lp:
                self.assertLessEqual(e["logprob"], 0.0)
                self.assertEqual(len(e["top_logprobs"]), 2)
                self.assertGreaterEqual(e["top_logprobs"][0]["logprob"], e["top_logprobs"][1]["logprob"])
        u = r["usage"]
        self.assertEqual(u["completion_tokens"], total)
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + total)
        # Same seed, same answers.
        code, r2 = self.srv.request("POST", "/v1/chat/completions", body)
        self.assertEqual([c["message"] for c in r2["choices"]], [c["message"] for c in r["choices"]])

    def test_length_and_logprobs_follow_temperature(self):
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "temperature": 0.5, "logprobs": True, "seed": 1}
        code, r = self.srv.request("POST", "/v1/chat/completions", body)
        ch = r["choices"][0]
        self.assertLessEqual(r["usage"]["completion_tokens"], 3)
        self.assertEqual(r["usage"]["completion_tokens"], len(ch["logprobs"]["content"]))
        self.assertGreater(len(ch["logprobs"]["content"]), 0)
        # The reported log-probs are those of softmax(logits / T).
        pol = self.backend.policy
        from reagent_backend.chat import normalize_messages
        ids, _ = pol.encode_chat(normalize_messages(body["messages"]), add_generation_prompt=True)
        toks = [e["bytes"][0] for e in ch["logprobs"]["content"]]
        with torch.no_grad():
            lg = pol.forward(torch.tensor([ids + toks]), None)[0][0]
        for k, e in enumerate(ch["logprobs"]["content"]):
            row = lg[len(ids) - 1 + k].clone()
            row[list(pol.banned_ids)] = float("-inf")
            want = float(torch.log_softmax(row / 0.5, -1)[toks[k]])
            self.assertAlmostEqual(e["logprob"], want, places=4)

    def test_tiny_positive_temperature_is_greedy(self):
        # go-openai cannot send 0 and sends the smallest positive float32.
        msgs = [{"role": "user", "content": "hi"}]
        _, a = self.srv.request("POST", "/v1/chat/completions", {"messages": msgs, "temperature": 1.401298464324817e-45, "max_tokens": 8, "logprobs": True})
        _, b = self.srv.request("POST", "/v1/chat/completions", {"messages": msgs, "temperature": 0, "max_tokens": 8})
        self.assertEqual(a["choices"][0]["message"], b["choices"][0]["message"])
        for e in a["choices"][0]["logprobs"]["content"]:
            self.assertTrue(-1e9 < e["logprob"] <= 0.0)

    def test_bad_requests_are_400(self):
        cases = [
            ("/v1/chat/completions", {"messages": []}, "messages"),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "temperature": 3}, "temperature"),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream": True}, "stream"),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop"),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}, "logprobs"),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x" * 500}]}, "context"),
            ("/v1/train", {"groups": [{"samples": [{"messages": [{"role": "user", "content": "x"}], "reward": 1}]}]}, "no trainable"),
            ("/v1/checkpoint", ["x"], "object"),
        ]
        for path, body, needle in cases:
            code, r = self.srv.request("POST", path, body)
            self.assertEqual(code, 400, (path, body, r))
            self.assertIn(needle, r["error"]["message"])
        for raw, needle in [(b"{not json", "not valid JSON"), (b"", "empty body"), (b'{"x": NaN}', "NaN")]:
            code, r = self.srv.request("POST", "/v1/train", raw=raw)
            self.assertEqual(code, 400)
            self.assertIn(needle, r["error"]["message"])

    def test_bad_train_request_changes_nothing(self):
        before = weights_digest(self.backend.policy)
        good = chat_sample("yes", 1.0)
        # The bad sample comes last, after good ones that could have been applied.
        bad = {"groups": [{"samples": [good, chat_sample("no", 0.0)]}, {"samples": [good, {"messages": good["messages"], "reward": None}]}]}
        code, r = self.srv.request("POST", "/v1/train", bad)
        self.assertEqual(code, 400)
        self.assertIn("groups[1].samples[1].reward", r["error"]["message"])
        self.assertEqual(weights_digest(self.backend.policy), before)
        self.assertEqual(self.srv.request("GET", "/v1/step")[1]["step"], 0)
        self.assertEqual(self.backend.trainer.optimizer.state_dict()["state"], {})
        code, m = self.srv.request("POST", "/v1/train", {"groups": [{"samples": [good, chat_sample("no", 0.0)]}]})
        self.assertEqual(code, 200, m)
        self.assertEqual(m["step"], 1)
        self.assertNotEqual(weights_digest(self.backend.policy), before)
        for k in ("policy_loss", "value_loss", "kl", "clip_fraction", "entropy", "grad_norm", "tokens", "tokens_per_second"):
            self.assertIn(k, m)

    def test_checkpoint_round_trip_resumes_exactly(self):
        body = {"groups": [{"samples": [chat_sample("yes", 1.0), chat_sample("no", 0.0), chat_sample("maybe", 0.5)]}],
                "config": {"lr": 1e-2, "epochs": 2, "minibatch_size": 2}}
        self.assertEqual(self.srv.request("POST", "/v1/train", body)[0], 200)
        d = os.path.join(self.tmp.name, "ck")
        code, r = self.srv.request("POST", "/v1/checkpoint", {"dir": d})
        self.assertEqual((code, r["step"]), (200, 1), r)
        for f in ("model.safetensors", "reference.safetensors", "optimizer.pt", "state.json", "config.json"):
            self.assertTrue(os.path.exists(os.path.join(d, f)), f)
        # The default folder (serve --checkpoint) is used without a body.
        code, r = self.srv.request("POST", "/v1/checkpoint", raw=b"")
        self.assertEqual((code, r["dir"]), (200, self.backend.checkpoint_dir))
        # Restore into a fresh backend built the way `serve --checkpoint` does.
        args = server_args(checkpoint=d, seed=99)
        restored = server.build_backend(args)
        self.assertEqual(restored.trainer.step, 1)
        self.assertEqual(weights_digest(restored.policy), weights_digest(self.backend.policy))
        # One more identical step on both gives identical weights: optimizer
        # state, reference model and step-seeded shuffling all came back.
        self.assertEqual(self.srv.request("POST", "/v1/train", body)[0], 200)
        restored.trainer.seed = self.backend.trainer.seed
        restored.trainer.train(restored.trainer.prepare(body))
        self.assertEqual(weights_digest(restored.policy), weights_digest(self.backend.policy))


def server_args(**kw):
    from reagent_backend.cli import build_parser

    args = build_parser().parse_args(["serve", "--tiny-config", json.dumps({"d_model": 32, "n_layer": 1, "n_head": 2, "max_seq": 160})])
    for k, v in kw.items():
        setattr(args, k, v)
    return args


class Process(unittest.TestCase):
    def test_serve_command_prints_address_and_stops_on_sigterm(self):
        env = dict(os.environ, PYTHONPATH=ROOT)
        p = subprocess.Popen([sys.executable, "-m", "reagent_backend", "serve", "--port", "0", "--tiny-config",
                              '{"d_model": 16, "n_layer": 1, "n_head": 2, "max_seq": 64}'],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            info = json.loads(line)
            with urllib.request.urlopen(info["listening"] + "/health", timeout=30) as r:
                self.assertEqual(json.loads(r.read())["status"], "ok")
            p.terminate()
            self.assertEqual(p.wait(timeout=30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()

    def test_bad_model_fails_fast(self):
        env = dict(os.environ, PYTHONPATH=ROOT)
        out = subprocess.run([sys.executable, "-m", "reagent_backend", "serve", "--model", "/no/such/model", "--port", "0"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 1)
        self.assertIn("no such file or folder", out.stderr)


if __name__ == "__main__":
    unittest.main()

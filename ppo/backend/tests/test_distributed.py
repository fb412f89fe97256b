"""train-file on two CPU ranks (gloo) gives the same weights as one process."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

from helpers import ROOT, chat_sample, torch
from reagent_backend import safetensors_io

TINY = '{"d_model": 32, "n_layer": 1, "n_head": 2, "max_seq": 128}'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool_sample(answer, reward):
    return {"messages": [
        {"role": "user", "content": "Find it."},
        {"role": "assistant", "content": "look", "tool_calls": [{"id": "1", "name": "search", "arguments": "{}"}]},
        {"role": "tool", "name": "search", "content": "found " + answer},
        {"role": "assistant", "content": answer},
    ], "reward": reward}


class TrainFile(unittest.TestCase):
    def spawn_ranks(self, world, inp, out):
        """Runs train-file on world ranks; returns [(returncode, stdout, stderr)] by rank."""
        port = free_port()
        procs = []
        for rank in range(world):
            env = dict(os.environ, PYTHONPATH=ROOT, WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank),
                       LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
            if world == 1:
                for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
                    env.pop(k)
            cmd = [sys.executable, "-m", "reagent_backend", "train-file", "--tiny-config", TINY, "--seed", "4", "--in", inp]
            if out:
                cmd += ["--out", out]
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        res = []
        for p in procs:
            try:
                so, se = p.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise
            res.append((p.returncode, so, se))
        return res

    def run_ranks(self, world, inp, out):
        res = self.spawn_ranks(world, inp, out)
        for rank, (rc, _, _) in enumerate(res):  # every rank's stderr on failure, not only the first one's
            self.assertEqual(rc, 0, "rank %d of %d exited %d\n%s" % (rank, world, rc, "\n".join(
                "--- rank %d stderr:\n%s" % (r, e[-3000:]) for r, (_, _, e) in enumerate(res))))
        return [json.loads(l) for l in res[0][1].splitlines() if l.startswith("{")]

    def test_two_ranks_match_one_process(self):
        reqs = [
            {"algo": "grpo", "groups": [
                {"samples": [chat_sample("yes", 1.0), chat_sample("no", 0.0), chat_sample("maybe so", 0.5)]},
                {"samples": [tool_sample("A", 1.0), tool_sample("BB", 0.0)]}],
             "config": {"lr": 1e-2, "seed": 1}},
            {"algo": "ppo", "groups": [{"samples": [tool_sample("C", 1.0), chat_sample("x", -1.0), chat_sample("yz", 0.5)]}],
             "config": {"lr": 1e-2, "seed": 2}},
        ]
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, "batch.jsonl")
            with open(inp, "w") as f:
                for r in reqs:
                    f.write(json.dumps(r) + "\n")
            m1 = self.run_ranks(1, inp, os.path.join(d, "one"))
            m2 = self.run_ranks(2, inp, os.path.join(d, "two"))
            a, _ = safetensors_io.load(os.path.join(d, "one", "model.safetensors"))
            b, _ = safetensors_io.load(os.path.join(d, "two", "model.safetensors"))
            with open(os.path.join(d, "two", "state.json")) as f:
                state = json.load(f)
        self.assertEqual([m["world_size"] for m in m2], [2, 2])
        self.assertEqual(state["step"], 2)
        for x, y in zip(m1, m2):
            self.assertEqual(x["tokens"], y["tokens"])
            self.assertEqual(x["trainable_tokens"], y["trainable_tokens"])
            self.assertAlmostEqual(x["policy_loss"], y["policy_loss"], places=5)
            self.assertAlmostEqual(x["grad_norm"], y["grad_norm"], places=4)
        self.assertAlmostEqual(m1[1]["value_loss"], m2[1]["value_loss"], places=5)
        self.assertEqual(sorted(a), sorted(b))
        diff = max(float((a[k] - b[k]).abs().max()) for k in a)
        moved = max(float(v.abs().max()) for v in a.values())
        self.assertLess(diff, 1e-4, "data-parallel weights differ from single-process by %g" % diff)
        self.assertGreater(moved, 0)

    def test_bad_request_on_two_ranks_exits_2_on_each(self):
        # The multi-rank exit path (os._exit after the last collective) keeps
        # the exit status and the message of a bad request, and writes nothing.
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, "batch.jsonl")
            with open(inp, "w") as f:
                f.write(json.dumps({"algo": "grpo", "groups": [{"samples": [chat_sample("yes", 1.0), chat_sample("no", 0.0)]}]}) + "\n")
                f.write(json.dumps({"groups": [{"samples": [{"messages": [], "reward": 1}]}]}) + "\n")
            res = self.spawn_ranks(2, inp, os.path.join(d, "out"))
            self.assertFalse(os.path.exists(os.path.join(d, "out")))
        for rank, (rc, _, se) in enumerate(res):
            self.assertEqual(rc, 2, "rank %d: %s" % (rank, se[-2000:]))
            self.assertIn("batch.jsonl:2: groups[0].samples[0].messages", se)
        self.assertEqual(len([l for l in res[0][1].splitlines() if l.startswith("{")]), 1)  # the first request trained

    def test_unexpected_error_on_two_ranks_keeps_the_traceback(self):
        with tempfile.TemporaryDirectory() as d:
            res = self.spawn_ranks(2, os.path.join(d, "missing.jsonl"), "")
        for rank, (rc, _, se) in enumerate(res):
            self.assertEqual(rc, 1, "rank %d: %s" % (rank, se[-2000:]))
            self.assertIn("Traceback", se)
            self.assertIn("FileNotFoundError", se)

    def test_bad_file_exits_2(self):
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, "bad.json")
            with open(inp, "w") as f:
                json.dump({"groups": [{"samples": [{"messages": [], "reward": 1}]}]}, f)
            out = subprocess.run([sys.executable, "-m", "reagent_backend", "train-file", "--tiny-config", TINY, "--in", inp],
                                 cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 2)
        self.assertIn("bad.json: groups[0].samples[0].messages", out.stderr)


if __name__ == "__main__":
    unittest.main()

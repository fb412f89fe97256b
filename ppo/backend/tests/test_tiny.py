"""The tiny model: tokenizer, chat template, safetensors I/O, forward pass
variants and the export-fixture command."""

import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import unittest

from helpers import ROOT, SMALL, small_policy, torch
from reagent_backend import fixture, generate, safetensors_io, tiny
from reagent_backend.chat import PayloadError, normalize_messages


class Tokenizer(unittest.TestCase):
    def setUp(self):
        self.tok = tiny.TinyTokenizer()

    def test_bytes_and_specials(self):
        self.assertEqual(self.tok.encode("hé"), [104, 0xC3, 0xA9])
        self.assertEqual(self.tok.decode([tiny.BOS, 104, 0xC3, 0xA9, tiny.END, tiny.PAD]), "hé")
        self.assertEqual(self.tok.decode([0xFF, 65]), "\ufffdA")  # invalid UTF-8 is replaced
        self.assertNotEqual(tiny.EOS, tiny.PAD)

    def test_chat_template_and_mask(self):
        msgs = normalize_messages([
            {"role": "system", "content": "S"},
            {"role": "user", "content": "U"},
            {"role": "assistant", "content": "A", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "name": "f", "content": "r"},
            {"role": "assistant", "content": "B"},
        ])
        ids, mask = self.tok.encode_chat(msgs)
        call = list(b'\n<tool_call>{"name": "f", "arguments": {}}</tool_call>')
        want = ([tiny.BOS, tiny.SYSTEM, ord("S"), tiny.END, tiny.USER, ord("U"), tiny.END, tiny.ASSISTANT, ord("A")] + call
                + [tiny.END, tiny.TOOL] + list(b"[f] r") + [tiny.END, tiny.ASSISTANT, ord("B"), tiny.END])
        self.assertEqual(ids, want)
        a1 = 8  # first assistant content byte
        expect = [0] * len(ids)
        for i in range(a1, a1 + 1 + len(call) + 1):
            expect[i] = 1
        expect[-2] = expect[-1] = 1
        self.assertEqual(mask, expect)
        # An explicit trainable list can switch an assistant message off.
        _, m2 = self.tok.encode_chat(msgs, trainable=[False, False, False, False, True])
        self.assertEqual(sum(m2), 2)
        ids3, _ = self.tok.encode_chat(msgs[:2], add_generation_prompt=True)
        self.assertEqual(ids3[-1], tiny.ASSISTANT)

    def test_bad_messages(self):
        for bad, needle in [
            ([], "non-empty"),
            ([{"role": "robot", "content": "x"}], "role"),
            ([{"role": "user", "content": 3}], "content"),
            ([{"role": "user", "content": "x", "tool_calls": [{"name": "f"}]}], "only assistant"),
            ([{"role": "assistant", "content": "x", "tool_calls": [{"arguments": "{}"}]}], "name"),
            ([{"role": "user", "content": [{"type": "image_url"}]}], "text parts"),
        ]:
            with self.assertRaises(PayloadError) as cm:
                normalize_messages(bad)
            self.assertIn(needle, str(cm.exception))


class SafetensorsIO(unittest.TestCase):
    def test_round_trip(self):
        ts = {"a": torch.randn(3, 4), "b": torch.arange(5, dtype=torch.int64), "c": torch.zeros(0, 2),
              "d": torch.randn(2).to(torch.bfloat16), "e": torch.tensor([True, False])}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.safetensors")
            safetensors_io.save(ts, p, metadata={"k": "v"})
            with open(p, "rb") as f:
                raw = f.read()
            (n,) = struct.unpack("<Q", raw[:8])
            self.assertEqual((8 + n) % 8, 0)  # data is 8-byte aligned
            back, meta = safetensors_io.load(p)
        self.assertEqual(meta, {"k": "v"})
        for k, v in ts.items():
            self.assertEqual(back[k].dtype, v.dtype)
            self.assertTrue(torch.equal(back[k], v), k)

    def test_matches_the_reference_library_when_installed(self):
        try:
            from safetensors.torch import load_file, save_file
        except ImportError:
            self.skipTest("the optional safetensors package is not installed")
        ts = {"w": torch.randn(4, 3)}
        with tempfile.TemporaryDirectory() as d:
            p1, p2 = os.path.join(d, "1"), os.path.join(d, "2")
            safetensors_io.save(ts, p1)
            save_file(ts, p2)
            self.assertTrue(torch.equal(load_file(p1)["w"], ts["w"]))
            self.assertTrue(torch.equal(safetensors_io.load(p2)[0]["w"], ts["w"]))

    def test_corrupt_files(self):
        good = bytearray()
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x")
            safetensors_io.save({"w": torch.ones(2, 2)}, p)
            with open(p, "rb") as f:
                good = f.read()
        (n,) = struct.unpack("<Q", good[:8])
        cases = {
            "short": b"\x01\x02",
            "huge header": struct.pack("<Q", 1 << 40) + b"{}",
            "not json": struct.pack("<Q", 4) + b"nope",
            "truncated data": good[:-3],
            "bad offsets": struct.pack("<Q", 70) + json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 99]}}).encode().ljust(70) + b"\0" * 16,
            "bad dtype": struct.pack("<Q", 62) + json.dumps({"w": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]}}).encode().ljust(62) + b"\0" * 4,
        }
        for name, data in cases.items():
            with self.assertRaises(safetensors_io.SafetensorsError, msg=name):
                safetensors_io.loads(data)
        self.assertEqual(safetensors_io.loads(good)[0]["w"].tolist(), [[1.0, 1.0], [1.0, 1.0]])
        self.assertGreater(n, 0)


class Forward(unittest.TestCase):
    def assert_kv_cache_matches_full_forward(self, pol, ids, prefill):
        """A prefill of `prefill` tokens, then one token at a time, gives the
        logits of one pass over the whole sequence."""
        full, _, _ = pol.model(ids, exact=True)
        logits, past = pol.gen_step(ids[:, :prefill], None)
        steps = [logits]
        for t in range(prefill, ids.shape[1]):
            logits, past = pol.gen_step(ids[:, t : t + 1], past)
            steps.append(logits)
        for k, lg in enumerate(steps):
            self.assertLess(float((lg - full[:, prefill - 1 + k]).abs().max()), 1e-5)
        return full

    def test_kv_cache_matches_full_forward(self):
        self.assert_kv_cache_matches_full_forward(small_policy(3), torch.tensor([[tiny.BOS, 10, 20, 30, 40, 50]]), 3)

    def test_prev_tokens_kv_cache_and_round_trip(self):
        for n in (1, 3):
            with self.subTest(prev_tokens=n):
                pol = small_policy(7, config=dict(SMALL, prev_tokens=n))
                ids = torch.randint(0, 264, (2, 30))
                # Chunks of 4 and of 1 cross the n-token history's edge.
                full = self.assert_kv_cache_matches_full_forward(pol, ids, 4)
                self.assert_kv_cache_matches_full_forward(pol, ids, 1)
                # Each embedding takes part: changing the token k places
                # back moves position 10's logits, for every k up to n.
                for k in range(1, n + 1):
                    other = ids.clone()
                    other[:, 10 - k] = (other[:, 10 - k] + 1) % 256
                    self.assertGreater(float((pol.model(other)[0][:, 10] - full[:, 10]).abs().max()), 1e-4)
                with tempfile.TemporaryDirectory() as d:
                    pol.save(d)
                    model, _ = tiny.load(d)
                self.assertEqual(model.config["prev_tokens"], n)
                self.assertEqual(sorted(k for k in model.state_dict() if k.startswith("prev_emb")),
                                 ["prev_emb.weight"] + ["prev_emb%d.weight" % k for k in range(2, n + 1)])
                self.assertTrue(torch.equal(model(ids)[0], pol.model(ids)[0]))

    def test_prev_token_emb_is_the_older_spelling_of_one_previous_token(self):
        self.assertEqual(tiny.check_config({"prev_token_emb": True})["prev_tokens"], 1)
        self.assertEqual(tiny.check_config({"prev_token_emb": False})["prev_tokens"], 0)
        self.assertEqual(tiny.check_config({"prev_token_emb": True, "prev_tokens": 1})["prev_tokens"], 1)
        self.assertNotIn("prev_token_emb", tiny.check_config({"prev_token_emb": True}))

    def test_fast_attention_matches_exact(self):
        pol = small_policy(4)
        ids = torch.randint(0, 264, (2, 40))
        a, _, _ = pol.model(ids, exact=True)
        b, _, _ = pol.model(ids)
        self.assertLess(float((a - b).abs().max()), 1e-5)

    def test_save_load_round_trip_and_max_seq(self):
        pol = small_policy(5)
        with tempfile.TemporaryDirectory() as d:
            pol.save(d)
            model, vh = tiny.load(d)
        ids = torch.randint(0, 264, (1, 12))
        self.assertTrue(torch.equal(model(ids)[0], pol.model(ids)[0]))
        self.assertTrue(torch.equal(vh["value_head.weight"], pol.value_head.weight.detach()))
        with self.assertRaises(ValueError):
            pol.model(torch.zeros(1, SMALL["max_seq"] + 1, dtype=torch.long))

    def test_config_validation(self):
        for bad in ({"d_model": 30, "n_head": 4}, {"n_layer": 0}, {"vocab_size": 100}, {"max_seq": "x"},
                    {"prev_token_emb": 1}, {"prev_tokens": -1}, {"prev_tokens": 9}, {"prev_tokens": True},
                    {"prev_tokens": "2"}, {"prev_token_emb": True, "prev_tokens": 3}):
            with self.assertRaises(ValueError):
                tiny.check_config(bad)


class Generation(unittest.TestCase):
    def test_greedy_is_deterministic_and_respects_limits(self):
        pol = small_policy(6)
        prompt, _ = pol.encode_chat(normalize_messages([{"role": "user", "content": "hi"}]), add_generation_prompt=True)
        a = generate.sample(pol, prompt, n=2, max_tokens=7, temperature=0.0, want_logprobs=True, top_logprobs=3)
        self.assertEqual(a[0]["ids"], a[1]["ids"])
        for r in a:
            self.assertLessEqual(len(r["ids"]), 7)
            self.assertIn(r["finish"], ("stop", "length"))
            for e in r["logprobs"]:
                self.assertEqual(e["id"], e["top"][0][0])  # greedy picks the top token
        # Stop strings cut the text (seed 11 greedily writes "OOO…GGG…").
        pol2 = small_policy(11)
        out = generate.sample(pol2, prompt, n=1, max_tokens=30, temperature=0.0)
        text = out[0]["text"]
        self.assertEqual(out[0]["finish"], "length")
        self.assertNotEqual(text[0], text[-1])
        cut = generate.sample(pol2, prompt, n=1, max_tokens=30, temperature=0.0, stop=["x", text[-1]])
        self.assertEqual(cut[0]["finish"], "stop")
        self.assertEqual(cut[0]["text"], text[: text.find(text[-1])])

    def test_never_samples_structural_special_tokens(self):
        pol = small_policy(6)
        prompt, _ = pol.encode_chat(normalize_messages([{"role": "user", "content": "hi"}]), add_generation_prompt=True)
        gen = torch.Generator().manual_seed(0)
        for r in generate.sample(pol, prompt, n=8, max_tokens=40, temperature=1.5, generator=gen):
            self.assertTrue(all(0 <= i < 256 for i in r["ids"]), r["ids"])

    def test_parse_tool_calls(self):
        content, calls = generate.parse_tool_calls('ok\n<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call> <tool_call>{bad}</tool_call>')
        self.assertEqual(content, "ok <tool_call>{bad}</tool_call>")
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["function"], {"name": "f", "arguments": '{"x": 1}'})

    def test_parse_tool_calls_keeps_the_arguments_as_written(self):
        # The next turn's prompt renders the arguments verbatim, so they must
        # come back exactly as the model wrote them (agents/tinylm does the
        # same): no re-serialisation with other spacing or escapes.
        for args in ('{"expression":"36 * 21"}', '{ "a" :[1,2.50, {"b":"\\u00e9"}] }', '{}', '[1,2]', '3'):
            block = '<tool_call>{"name": "f", "arguments": %s}</tool_call>' % args
            content, calls = generate.parse_tool_calls(block)
            self.assertEqual((content, calls[0]["function"]["arguments"]), ("", args), block)
        for block, want in (('<tool_call>{"name":"f","arguments":"{\\"x\\":1}"}</tool_call>', '{"x":1}'),
                            ('<tool_call>{"name":"f"}</tool_call>', "{}"),
                            ('<tool_call>{"name":"f","arguments":null}</tool_call>', "{}"),
                            ('<tool_call>{"arguments":{"a":1},"name":"f","arguments":{"b" : 2}}</tool_call>', '{"b" : 2}'),
                            ('<tool_call> [ {"name":"f","arguments":{"a": 1}} , {"name":"g","arguments":{"b":2}} ] </tool_call>',
                             '{"a": 1}')):
            content, calls = generate.parse_tool_calls(block)
            self.assertEqual(calls[0]["function"]["arguments"], want, block)

    def test_parse_tool_calls_random_blocks(self):
        # Random JSON with random spacing keeps its arguments byte for byte;
        # random text inside the markers never raises and, when it is no
        # call, stays in the content.
        rng = random.Random(5)

        def value(depth):
            k = rng.randrange(6 if depth < 3 else 4)
            if k == 0:
                return rng.choice([None, True, False, 0, -1.5e3, 7])
            if k in (1, 2):
                return "".join(rng.choice('ab "\\\n\u00e9{}[]:,') for _ in range(rng.randrange(6)))
            if k == 3:
                return rng.randrange(-10**6, 10**6)
            if k == 4:
                return [value(depth + 1) for _ in range(rng.randrange(3))]
            return {"k%d" % i: value(depth + 1) for i in range(rng.randrange(3))}

        def spaced(v):
            return json.dumps(v, separators=(rng.choice([",", ", ", " ,\n"]), rng.choice([":", ": ", " :\t"])),
                              ensure_ascii=rng.random() < 0.5)

        for _ in range(300):
            args = spaced({"x": value(0)})
            block = '<tool_call>%s{"name": "f",%s"arguments": %s}%s</tool_call>' % (
                rng.choice(["", " ", "\n"]), rng.choice(["", " "]), args, rng.choice(["", " "]))
            _, calls = generate.parse_tool_calls(block)
            self.assertEqual(calls[0]["function"]["arguments"], args, block)
        alphabet = '{}[]":,\\ \nabn0123456789.eE+-tfulr'
        for _ in range(2000):
            body = "".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))
            text = "x<tool_call>" + body + "</tool_call>"
            content, calls = generate.parse_tool_calls(text)
            if not calls:
                self.assertEqual(content, text)

    def test_top_p(self):
        probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
        out = generate._top_p_filter(probs, 0.7)
        self.assertEqual([round(x, 6) for x in out[0].tolist()], [0.625, 0.375, 0.0, 0.0])


class ExportFixture(unittest.TestCase):
    def test_command_writes_consistent_files(self):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, PYTHONPATH=ROOT)
            out = subprocess.run([sys.executable, "-m", "reagent_backend", "export-fixture", "--out", d, "--seed", "7"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(json.loads(out.stdout.splitlines()[-1])["cases"], 5)
            with open(os.path.join(d, "fixture.json")) as f:
                fx = json.load(f)
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            model, _ = tiny.load(d)
        self.assertEqual(cfg, fx["config"])
        self.assertEqual(model.config, cfg)
        for c in fx["cases"]:
            self.assertEqual(len(c["logits"]), len(c["ids"]))
            self.assertEqual(len(c["logits"][0]), tiny.VOCAB_SIZE)
            got = model(torch.tensor([c["ids"]]))[0][0]
            self.assertLess(float((got - torch.tensor(c["logits"])).abs().max()), 1e-5, c["name"])
        # The chat cases are what the tokenizer produces.
        tok = tiny.TinyTokenizer()
        for c in fx["chat"]:
            ids, mask = tok.encode_chat(normalize_messages(c["messages"]), add_generation_prompt=c["add_generation_prompt"])
            self.assertEqual(ids, c["ids"])
            self.assertEqual(mask, c["trainable"])

    def test_seed_changes_weights(self):
        a = tiny.TinyLM({"d_model": 16, "n_layer": 1, "n_head": 2, "max_seq": 8})
        b = tiny.TinyLM({"d_model": 16, "n_layer": 1, "n_head": 2, "max_seq": 8})
        fixture.randomize(a, 1)
        fixture.randomize(b, 2)
        self.assertFalse(torch.equal(a.tok_emb.weight, b.tok_emb.weight))
        self.assertNotEqual(float(a.blocks[0].ln1.weight[0]), 1.0)


if __name__ == "__main__":
    unittest.main()

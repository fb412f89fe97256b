import json
import os
import tempfile
import unittest

import torch

from reagent_backend import sft, tiny


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")


class SFTTest(unittest.TestCase):
    def test_learns_demonstrations_and_writes_loadable_model(self):
        d = tempfile.mkdtemp()
        rows = []
        for a in range(4):
            for b in range(4):
                rows.append({"messages": [{"role": "user", "content": "%d+%d" % (a, b)},
                                          {"role": "assistant", "content": str(a + b)}],
                             "trainable": [False, True]})
        data = os.path.join(d, "demos.jsonl")
        write_jsonl(data, rows * 4)
        out = os.path.join(d, "model")
        args = sft.build_parser().parse_args(["--data", data, "--out", out, "--steps", "150", "--batch", "16",
                                              "--d-model", "32", "--n-layer", "1", "--n-head", "2",
                                              "--max-seq", "64", "--lr", "3e-3", "--log-every", "1000"])
        first = sft.evaluate(self._fresh(args), sft.load_samples(data, tiny.TinyTokenizer(), 64)[0])
        final = sft.train(args)
        self.assertLess(final["val_loss"], first * 0.5, "SFT lowers the loss on trainable tokens")
        model, _ = tiny.load(out)
        self.assertEqual(model.config["d_model"], 32)

    def _fresh(self, args):
        m = tiny.TinyLM({"d_model": 32, "n_layer": 1, "n_head": 2, "max_seq": 64})
        m.init_weights(torch.Generator().manual_seed(args.seed))
        return m

    def test_stop_at_ends_early_with_the_full_schedule(self):
        d = tempfile.mkdtemp()
        data = os.path.join(d, "demos.jsonl")
        write_jsonl(data, [{"messages": [{"role": "user", "content": "1+1"}, {"role": "assistant", "content": "2"}],
                            "trainable": [False, True]}] * 8)
        args = sft.build_parser().parse_args(["--data", data, "--out", os.path.join(d, "m"), "--steps", "50",
                                              "--stop-at", "3", "--batch", "4", "--d-model", "16", "--n-layer", "1",
                                              "--n-head", "2", "--max-seq", "32", "--log-every", "1000"])
        self.assertEqual(sft.train(args)["steps"], 3)

    def test_extend_context_keeps_the_short_prompt_logits(self):
        m = tiny.TinyLM({"d_model": 32, "n_layer": 1, "n_head": 2, "max_seq": 16})
        m.init_weights(torch.Generator().manual_seed(1))
        big = sft.extend_context(m, 40, torch.Generator().manual_seed(2))
        self.assertEqual(big.config["max_seq"], 40)
        ids = torch.tensor([[tiny.BOS, 65, 66, 67, 68]])
        with torch.no_grad():
            a, _, _ = m(ids)
            b, _, _ = big(ids)
            long_out, _, _ = big(torch.randint(0, 256, (1, 40)))
        self.assertTrue(torch.allclose(a, b), "positions the model had are unchanged")
        self.assertEqual(long_out.shape[1], 40)
        with self.assertRaises(ValueError):
            sft.extend_context(m, 8, torch.Generator())

    def test_only_trainable_tokens_are_targets(self):
        tok = tiny.TinyTokenizer()
        ids, mask = tok.encode_chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], [False, True])
        x, y, m = sft.collate([(ids, mask)])
        targets = [int(t) for t, on in zip(y[0], m[0]) if on]
        self.assertEqual(targets, list(b"yo") + [tiny.END])

    def test_malformed_line_names_its_number(self):
        d = tempfile.mkdtemp()
        data = os.path.join(d, "bad.jsonl")
        write_jsonl(data, [{"messages": [{"role": "user", "content": "x"}]}, "{not json"])
        with self.assertRaises(ValueError) as cm:
            sft.load_samples(data, tiny.TinyTokenizer(), 64)
        self.assertIn(":2:", str(cm.exception))


if __name__ == "__main__":
    unittest.main()


class DeviceTest(unittest.TestCase):
    def test_auto_picks_what_torch_sees(self):
        from reagent_backend.policy import resolve_device
        want = "cuda" if torch.cuda.is_available() else "cpu"
        self.assertEqual(resolve_device("auto").type, want)
        self.assertEqual(resolve_device("cpu").type, "cpu")


class TruncateTest(unittest.TestCase):
    def test_long_sample_is_refused_or_cut(self):
        from reagent_backend import policy as pol, trainer as tr
        from reagent_backend.chat import PayloadError
        p = pol.TinyPolicy(torch.device("cpu"), config={"d_model": 16, "n_layer": 1, "n_head": 2, "max_seq": 32})
        t = tr.Trainer(p, algo="grpo", lr=1e-3)
        long = {"messages": [{"role": "user", "content": "q" * 10}, {"role": "assistant", "content": "a" * 40}], "reward": 1.0}
        short = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "reward": 0.0}
        body = {"algo": "grpo", "groups": [{"samples": [long, short]}]}
        with self.assertRaises(PayloadError) as cm:
            t.prepare(body)
        self.assertIn("config.truncate", str(cm.exception))
        body["config"] = {"truncate": True}
        job = t.prepare(body)
        self.assertEqual(job.truncated, 1)
        self.assertEqual(len(job.samples[0].ids), 32)

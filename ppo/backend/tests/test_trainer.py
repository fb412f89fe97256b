"""The trainer: masks, advantages in context, GRPO/PPO steps, learning."""

import math
import time
import unittest

from helpers import chat_sample, small_policy, torch, weights_digest
from reagent_backend import generate, losses, trainer
from reagent_backend.chat import PayloadError, normalize_messages


def tool_sample(reward):
    return {"messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Find it."},
        {"role": "assistant", "content": "look", "tool_calls": [{"id": "1", "name": "search", "arguments": "{\"q\": 1}"}]},
        {"role": "tool", "name": "search", "tool_call_id": "1", "content": "RESULT TEXT"},
        {"role": "assistant", "content": "done"},
    ], "reward": reward}


class Masking(unittest.TestCase):
    def test_masked_tokens_get_exactly_zero_gradient(self):
        pol = small_policy(1)
        tr = trainer.Trainer(pol, algo="grpo", lr=1e-3)
        job = tr.prepare({"groups": [{"samples": [tool_sample(1.0), tool_sample(0.0), chat_sample("x", 0.5)]}]})
        # Fill in old/ref log-probs as train() would, then capture the logits'
        # gradient of one loss evaluation.
        for s, a in zip(job.samples, losses.grpo_advantages([1.0, 0.0, 0.5]).tolist()):
            s.adv = a
        with torch.no_grad():
            ids, attn, _ = tr._collate(job.samples)
            lg, _ = pol.forward(ids, attn)
            old = losses.token_log_probs(lg[:, :-1], ids[:, 1:])
            for i, s in enumerate(job.samples):
                n = len(s.ids) - 1
                # Perturb "old" so ratios differ from 1 and the KL is non-zero.
                s.old_logp = old[i, :n] - 0.05
                s.ref_logp = old[i, :n] + 0.1
        captured = {}
        orig = pol.forward

        def spy(ids, attn, **kw):
            logits, h = orig(ids, attn, **kw)
            logits.retain_grad()
            captured["logits"] = logits
            return logits, h

        pol.forward = spy
        cfg = trainer.parse_config({}, "grpo", 1e-3)
        acc = {k: 0.0 for k in ("pg", "vf", "k3", "k1", "clip", "ent", "ratio", "tok")}
        tr._loss_backward(job.samples, "grpo", cfg, 10.0, acc)
        g = captured["logits"].grad  # [B, T, V]; position t predicts token t+1
        for i, s in enumerate(job.samples):
            for t in range(len(s.ids) - 1):
                norm = float(g[i, t].abs().sum())
                if s.mask[t + 1]:
                    self.assertGreater(norm, 0.0, "trainable token %d of sample %d" % (t + 1, i))
                else:
                    self.assertEqual(norm, 0.0, "masked token %d of sample %d" % (t + 1, i))
            # padding positions too
            for t in range(len(s.ids) - 1, g.shape[1]):
                self.assertEqual(float(g[i, t].abs().sum()), 0.0)
        # the tool output and prompt are present but masked
        s = job.samples[0]
        text_mask = [m for m in s.mask]
        self.assertGreater(len(s.ids) - sum(text_mask), len("RESULT TEXT"))

    def test_sample_with_everything_masked_is_rejected(self):
        pol = small_policy(1)
        tr = trainer.Trainer(pol, lr=1e-3)
        s = tool_sample(1.0)
        s["trainable"] = [False] * 5
        with self.assertRaises(PayloadError) as cm:
            tr.prepare({"groups": [{"samples": [s]}]})
        self.assertIn("no trainable tokens", str(cm.exception))


class Steps(unittest.TestCase):
    def test_first_grpo_step_matches_hand_computed_loss(self):
        pol = small_policy(2)
        tr = trainer.Trainer(pol, algo="grpo", lr=1e-3)
        body = {"groups": [{"samples": [chat_sample("abcd", 1.0), chat_sample("x", 0.0)]}, {"samples": [chat_sample("yz", 3.0)]}]}
        m = tr.train(tr.prepare(body))
        # ratio 1 on the first minibatch; group 1 has A = ±1/(1 + 2e-6)·... :
        a = 0.5 / (0.5 + 1e-6)
        # tokens: "abcd"+end = 5 with +a, "x"+end = 2 with −a, "yz"+end = 3 with A = 0
        want = (-5 * a + 2 * a + 0) / 10
        self.assertAlmostEqual(m["policy_loss"], want, places=6)
        self.assertEqual(m["trainable_tokens"], 10)
        self.assertAlmostEqual(m["ratio_mean"], 1.0, places=6)
        self.assertEqual(m["kl"], 0.0)  # π = π_ref before the first update
        self.assertEqual(m["step"], 1)
        self.assertEqual(m["optimizer_steps"], 1)
        for k in ("entropy", "grad_norm", "tokens_per_second"):
            self.assertGreater(m[k], 0.0, k)
        self.assertLessEqual(m["entropy"], math.log(264) + 1e-6)

    def test_epochs_minibatches_and_kl(self):
        pol = small_policy(3)
        vh = weights_digest_value_head(pol)
        tr = trainer.Trainer(pol, algo="grpo", lr=1e-2)
        body = {"groups": [{"samples": [chat_sample("a" * i, float(i)) for i in range(1, 7)]}],
                "config": {"epochs": 2, "minibatch_size": 2, "micro_batch_size": 1, "temperature": 0.7}}
        m = tr.train(tr.prepare(body))
        self.assertEqual(m["optimizer_steps"], 6)  # 2 epochs × 3 minibatches
        self.assertGreater(m["kl"], 0.0)           # later minibatches moved away from π_ref
        self.assertGreater(m["clip_fraction"], 0.0)
        self.assertEqual(weights_digest_value_head(pol), vh)  # GRPO leaves the value head alone
        m2 = tr.train(tr.prepare(body))
        self.assertEqual(m2["step"], 2)
        self.assertGreater(m2["kl"], 0.0)

    def test_ppo_step_trains_value_head(self):
        pol = small_policy(4)
        vh = weights_digest_value_head(pol)
        tr = trainer.Trainer(pol, algo="ppo", lr=1e-3)
        body = {"groups": [{"samples": [tool_sample(1.0), chat_sample("no", 0.0)]}], "config": {"epochs": 2}}
        m1 = tr.train(tr.prepare(body))
        self.assertEqual(m1["algo"], "ppo")
        self.assertGreater(m1["value_loss"], 0.0)
        self.assertNotEqual(weights_digest_value_head(pol), vh)
        self.assertEqual(m1["optimizer_steps"], 2)

    def test_ppo_advantages_follow_gae_with_kl_reward(self):
        # Recompute by hand what train() feeds the loss for one sample.
        pol = small_policy(5)
        tr = trainer.Trainer(pol, algo="ppo", lr=1e-2)
        # Move π away from π_ref first so the per-token KL reward is non-zero.
        tr.train(tr.prepare({"groups": [{"samples": [tool_sample(1.0), chat_sample("abc", 0.0)]}]}))
        job = tr.prepare({"algo": "ppo", "groups": [{"samples": [tool_sample(2.0)]}],
                          "config": {"whiten_advantages": False, "kl_coef": 0.5, "gamma": 0.9, "lam": 0.8}})
        seen = {}
        orig = tr._loss_backward

        def spy(mb, algo, cfg, n_tok, acc):
            seen["adv"] = [s.adv.clone() for s in mb]
            seen["ret"] = [s.ret.clone() for s in mb]
            seen["old_v"] = [s.old_v.clone() for s in mb]
            seen["k1"] = [(s.old_logp - s.ref_logp).clone() for s in mb]
            return orig(mb, algo, cfg, n_tok, acc)

        tr._loss_backward = spy
        tr.train(job)
        s = job.samples[0]
        idx = [t for t in range(len(s.ids) - 1) if s.mask[t + 1]]
        self.assertGreater(float(seen["k1"][0][idx].abs().sum()), 0.0)
        v = seen["old_v"][0][idx].tolist()
        k1 = seen["k1"][0][idx].tolist()
        r = [-0.5 * x for x in k1]
        r[-1] += 2.0
        adv = [0.0] * len(idx)
        last = 0.0
        for t in reversed(range(len(idx))):
            nv = v[t + 1] if t + 1 < len(idx) else 0.0
            last = r[t] + 0.9 * nv - v[t] + 0.9 * 0.8 * last
            adv[t] = last
        got = seen["adv"][0]
        for j, t in enumerate(idx):
            self.assertAlmostEqual(float(got[t]), adv[j], places=5)
            self.assertAlmostEqual(float(seen["ret"][0][t]), adv[j] + v[j], places=5)
        masked = [t for t in range(len(s.ids) - 1) if not s.mask[t + 1]]
        self.assertEqual(float(got[masked].abs().sum()), 0.0)

    def test_ppo_whitening_over_trainable_tokens(self):
        pol = small_policy(6)
        tr = trainer.Trainer(pol, algo="ppo", lr=1e-9)
        job = tr.prepare({"groups": [{"samples": [tool_sample(1.0), chat_sample("abc", -1.0)]}]})
        seen = []
        orig = tr._loss_backward
        tr._loss_backward = lambda mb, *a: (seen.extend((s.adv.clone(), s.mask) for s in mb), orig(mb, *a))[1]
        tr.train(job)
        vals = []
        for adv, mask in seen:
            vals += [float(adv[t]) for t in range(len(mask) - 1) if mask[t + 1]]
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((x - mean) ** 2 for x in vals) / len(vals))
        self.assertAlmostEqual(mean, 0.0, places=5)
        self.assertAlmostEqual(std, 1.0, places=4)


def weights_digest_value_head(pol):
    return (pol.value_head.weight.detach().clone().numpy().tobytes(), float(pol.value_head.bias))


class Validation(unittest.TestCase):
    def test_bad_payloads_are_rejected_before_anything_changes(self):
        pol = small_policy(7)
        tr = trainer.Trainer(pol, lr=1e-3)
        before = weights_digest(pol)
        good = chat_sample("ok", 1.0)
        long_sample = chat_sample("z" * 200, 1.0)
        cases = [
            ([], "JSON object"),
            ({"groups": []}, "groups"),
            ({"groups": [{"samples": [good]}], "algo": "dpo"}, "algo"),
            ({"groups": [{"samples": [good]}], "config": {"lr": -1}}, "config.lr"),
            ({"groups": [{"samples": [good]}], "config": {"learning_rate": 1}}, "unknown keys"),
            ({"groups": [{"samples": [good]}], "config": {"epochs": 1.5}}, "integer"),
            ({"groups": [{"samples": [good]}], "config": {"dual_clip": 0.5}}, "dual_clip"),
            ({"groups": [{"samples": [good]}], "config": {"temperature": 0}}, "temperature"),
            ({"groups": [{"samples": [good]}], "surprise": 1}, "unknown keys"),
            ({"groups": [{"samples": [good, {"messages": good["messages"]}]}]}, "reward: missing"),
            ({"groups": [{"samples": [good, {"messages": good["messages"], "reward": "1"}]}]}, "must be a number"),
            ({"groups": [{"samples": [good, dict(good, trainable=[True, True])]}]}, "only assistant"),
            ({"groups": [{"samples": [good, dict(good, trainable=[False])]}]}, "booleans"),
            ({"groups": [{"samples": [good]}, {"samples": [{"messages": [{"role": "user", "content": "only"}], "reward": 1}]}]}, "no trainable tokens"),
            ({"groups": [{"samples": [good, long_sample]}]}, "more than the limit"),
            ({"groups": [{"samples": [good]}], "model": "gpt-4"}, "model"),
        ]
        for body, needle in cases:
            with self.assertRaises(PayloadError, msg=needle) as cm:
                tr.prepare(body)
            self.assertIn(needle, str(cm.exception))
        self.assertEqual(weights_digest(pol), before)
        self.assertEqual(tr.step, 0)

    def test_reward_must_be_finite(self):
        tr = trainer.Trainer(small_policy(7), lr=1e-3)
        with self.assertRaises(PayloadError):
            tr.prepare({"groups": [{"samples": [chat_sample("a", float("nan"))]}]})


class Learning(unittest.TestCase):
    def test_grpo_learns_to_start_with_an_uppercase_letter(self):
        """Reward 1 when the answer's first byte is A–Z. The untrained policy
        does so about 10% of the time; after 100 GRPO steps of 16 samples it
        must do so most of the time."""
        torch.manual_seed(0)
        pol = small_policy(1, config={"d_model": 32, "n_layer": 1, "n_head": 2, "max_seq": 64})
        tr = trainer.Trainer(pol, algo="grpo", lr=5e-3, seed=1)
        prompt = [{"role": "user", "content": "Say something."}]
        ids, _ = pol.encode_chat(normalize_messages(prompt), add_generation_prompt=True)

        def p_upper():
            with torch.no_grad():
                lg = pol.forward(torch.tensor([ids]), None)[0][0, -1]
            return float(torch.softmax(lg, -1)[65:91].sum())

        gen = torch.Generator().manual_seed(1)
        start = p_upper()
        t0 = time.time()
        rewards = []
        for _ in range(100):
            outs = generate.sample(pol, ids, n=16, max_tokens=2, temperature=1.0, generator=gen)
            samples = [{"messages": prompt + [{"role": "assistant", "content": o["text"]}],
                        "reward": 1.0 if o["ids"] and 65 <= o["ids"][0] <= 90 else 0.0} for o in outs]
            m = tr.train(tr.prepare({"groups": [{"samples": samples}]}))
            rewards.append(m["reward_mean"])
        end = p_upper()
        self.assertLess(start, 0.2)
        self.assertGreater(end, 0.6, "P(first byte uppercase) %.3f -> %.3f in %.1fs" % (start, end, time.time() - t0))
        self.assertGreater(sum(rewards[-10:]) / 10, sum(rewards[:10]) / 10)


if __name__ == "__main__":
    unittest.main()

"""The training formulas against values worked out by hand."""

import math
import unittest

from helpers import torch  # noqa: F401  (sets sys.path)
from reagent_backend import losses

T = torch.tensor


class GRPOAdvantages(unittest.TestCase):
    def test_two_levels(self):
        # mean 0.5, population std 0.5 -> ±1 / (0.5 + 1e-6) · 0.5
        a = losses.grpo_advantages([1, 0, 0, 1])
        want = 0.5 / (0.5 + 1e-6)
        self.assertEqual(a.tolist(), [want, -want, -want, want])

    def test_three_values(self):
        # mean 4, variance (4 + 0 + 4) / 3 = 8/3
        std = math.sqrt(8 / 3)
        a = losses.grpo_advantages([2.0, 4.0, 6.0])
        for got, want in zip(a.tolist(), [-2 / (std + 1e-6), 0.0, 2 / (std + 1e-6)]):
            self.assertAlmostEqual(got, want, places=12)

    def test_degenerate_groups_get_zero(self):
        self.assertEqual(losses.grpo_advantages([0.7]).tolist(), [0.0])
        self.assertEqual(losses.grpo_advantages([1.0, 1.0, 1.0]).tolist(), [0.0, 0.0, 0.0])


class ClippedSurrogate(unittest.TestCase):
    def check(self, adv, ratio, want, dual=3.0, eps=0.2, clipped=None):
        logp = T([math.log(ratio)], dtype=torch.float64)
        old = T([0.0], dtype=torch.float64)
        loss, r, c = losses.clipped_surrogate(logp, old, T([adv], dtype=torch.float64), eps, dual)
        self.assertAlmostEqual(float(r), ratio, places=12)
        self.assertAlmostEqual(float(loss), want, places=12, msg="A=%s ρ=%s" % (adv, ratio))
        if clipped is not None:
            self.assertEqual(float(c), 1.0 if clipped else 0.0)

    def test_positive_advantage(self):
        self.check(1.0, 1.5, -1.2, clipped=True)   # max(-1.5, -1.2)
        self.check(1.0, 0.5, -0.5, clipped=True)   # max(-0.5, -0.8)
        self.check(2.0, 1.1, -2.2, clipped=False)  # inside the band
        self.check(1.0, 1.0, -1.0, clipped=False)

    def test_negative_advantage(self):
        self.check(-1.0, 1.5, 1.5)   # max(1.5, 1.2)
        self.check(-1.0, 0.5, 0.8)   # max(0.5, 0.8)
        self.check(-1.0, 2.9, 2.9)   # below the dual-clip cap c·|A| = 3

    def test_dual_clip_caps_negative_advantage(self):
        self.check(-1.0, 5.0, 3.0)             # min(max(5, 1.2), 3)
        self.check(-2.0, 4.0, 6.0)             # min(max(8, 2.4), 6)
        self.check(-1.0, 5.0, 5.0, dual=0)     # dual clip off
        self.check(1.0, 5.0, -1.2)             # never applies when A > 0

    def test_gradient_is_zero_where_clipped(self):
        logp = T([math.log(1.5), math.log(1.1)], requires_grad=True)
        loss, _, _ = losses.clipped_surrogate(logp, T([0.0, 0.0]), T([1.0, 1.0]))
        loss.sum().backward()
        self.assertEqual(float(logp.grad[0]), 0.0)          # clipped branch: constant
        self.assertAlmostEqual(float(logp.grad[1]), -1.1, places=6)  # d(-A·ρ)/dlogπ = -A·ρ


class KL(unittest.TestCase):
    def test_k1_k3(self):
        logp = T([math.log(0.5)], dtype=torch.float64)
        ref = T([math.log(0.25)], dtype=torch.float64)
        self.assertAlmostEqual(float(losses.kl_k1(logp, ref)), math.log(2), places=12)
        # Δ = log 0.25 − log 0.5 = −ln 2; e^Δ − Δ − 1 = 0.5 + ln 2 − 1
        self.assertAlmostEqual(float(losses.kl_k3(logp, ref)), 0.5 + math.log(2) - 1, places=12)

    def test_k3_zero_when_equal_and_nonnegative(self):
        x = torch.linspace(-3, 3, 13, dtype=torch.float64)
        self.assertEqual(float(losses.kl_k3(x, x).abs().max()), 0.0)
        self.assertTrue(bool((losses.kl_k3(x, x.flip(0)) >= 0).all()))


class GAE(unittest.TestCase):
    def test_gamma_one(self):
        # δ2 = 1 − 0.7 = 0.3; δ1 = 0.7 − 0.6 = 0.1; δ0 = 0.6 − 0.5 = 0.1
        # A2 = 0.3; A1 = 0.1 + 0.9·0.3 = 0.37; A0 = 0.1 + 0.9·0.37 = 0.433
        adv, ret = losses.gae(T([0.0, 0.0, 1.0], dtype=torch.float64), T([0.5, 0.6, 0.7], dtype=torch.float64), 1.0, 0.9)
        for got, want in zip(adv.tolist(), [0.433, 0.37, 0.3]):
            self.assertAlmostEqual(got, want, places=12)
        for got, want in zip(ret.tolist(), [0.933, 0.97, 1.0]):
            self.assertAlmostEqual(got, want, places=12)

    def test_discounted(self):
        # γ = λ = 0.5: δ2 = 0.3, δ1 = 0.5·0.7 − 0.6 = −0.25, δ0 = 0.5·0.6 − 0.5 = −0.2
        # A2 = 0.3, A1 = −0.25 + 0.25·0.3 = −0.175, A0 = −0.2 + 0.25·(−0.175) = −0.24375
        adv, _ = losses.gae(T([0.0, 0.0, 1.0], dtype=torch.float64), T([0.5, 0.6, 0.7], dtype=torch.float64), 0.5, 0.5)
        for got, want in zip(adv.tolist(), [-0.24375, -0.175, 0.3]):
            self.assertAlmostEqual(got, want, places=12)

    def test_lambda_one_is_return_minus_value(self):
        r = T([0.1, -0.2, 0.3, 1.0], dtype=torch.float64)
        v = T([0.4, 0.1, -0.3, 0.2], dtype=torch.float64)
        adv, ret = losses.gae(r, v, 1.0, 1.0)
        # With γ = λ = 1 the return is the sum of future rewards.
        want = [1.2, 1.1, 1.3, 1.0]
        for got, w in zip(ret.tolist(), want):
            self.assertAlmostEqual(got, w, places=12)


class ValueLoss(unittest.TestCase):
    def test_clipping(self):
        # V moved 0.5 -> 1.0; clipped to 0.7; target 1.0: max(0, 0.09) / 2
        got = losses.value_loss(T([1.0]), T([0.5]), T([1.0]), 0.2)
        self.assertAlmostEqual(float(got), 0.045, places=6)
        # inside the band: plain squared error
        got = losses.value_loss(T([0.6]), T([0.5]), T([1.0]), 0.2)
        self.assertAlmostEqual(float(got), 0.5 * 0.16, places=6)
        got = losses.value_loss(T([1.0]), T([0.5]), T([0.0]), 0)
        self.assertAlmostEqual(float(got), 0.5, places=6)


class LogProbs(unittest.TestCase):
    def test_temperature_scaling(self):
        logits = T([[2.0, 1.0, 0.0]])
        for temp in (1.0, 2.0, 0.7):
            z = [2.0 / temp, 1.0 / temp, 0.0]
            lse = math.log(sum(math.exp(x) for x in z))
            for tok in range(3):
                got = float(losses.token_log_probs(logits, T([tok]), temp)[0])
                self.assertAlmostEqual(got, z[tok] - lse, places=6)

    def test_entropy(self):
        self.assertAlmostEqual(float(losses.entropy_from_logits(torch.zeros(1, 4))[0]), math.log(4), places=6)
        # T → large flattens the distribution towards uniform
        e = float(losses.entropy_from_logits(T([[5.0, 0.0, 0.0, 0.0]]), 1000.0)[0])
        self.assertAlmostEqual(e, math.log(4), places=3)

    def test_whiten(self):
        x = T([1.0, 2.0, 100.0, 3.0])
        m = T([1.0, 1.0, 0.0, 1.0])
        w = losses.masked_whiten(x, m)
        # mean 2, population std sqrt(2/3); masked entry zeroed
        s = math.sqrt(2 / 3)
        for got, want in zip(w.tolist(), [-1 / s, 0.0, 0.0, 1 / s]):
            self.assertAlmostEqual(got, want, places=5)


if __name__ == "__main__":
    unittest.main()

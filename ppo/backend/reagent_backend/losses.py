"""The training math of /work/shared/DESIGN.md, as small tensor functions.

Conventions: per-token tensors are [B, T] aligned with the *target* token
(position t holds the log-prob of token t+1 of the input), and `mask` is 1.0
on trainable tokens and 0.0 elsewhere (prompt, tool output, padding).
"""

import math

import torch
import torch.nn.functional as F

GRPO_EPS = 1e-6


def grpo_advantages(rewards, eps=GRPO_EPS):
    """Group-relative advantages A = (R - mean) / (std + eps) of one group.

    std is the population standard deviation (divide by G, not G-1), so a
    group of one sample, or of equal rewards, gets zero advantages."""
    r = torch.as_tensor(rewards, dtype=torch.float64)
    if r.numel() == 0:
        return r
    mean = r.mean()
    std = ((r - mean) ** 2).mean().sqrt()
    return (r - mean) / (std + eps)


def token_log_probs(logits, targets, temperature=1.0):
    """Log-probabilities of targets under softmax(logits / temperature), in
    float32 whatever the logits' dtype."""
    lg = logits.float()
    if temperature != 1.0:
        lg = lg / temperature
    logp = F.log_softmax(lg, dim=-1)
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits, temperature=1.0):
    """Entropy of softmax(logits / temperature) per position."""
    lg = logits.float()
    if temperature != 1.0:
        lg = lg / temperature
    logp = F.log_softmax(lg, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def kl_k1(logp, ref_logp):
    """k1 = log π − log π_ref (unbiased, can be negative)."""
    return logp - ref_logp


def kl_k3(logp, ref_logp):
    """k3 = e^Δ − Δ − 1 with Δ = log π_ref − log π (non-negative)."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1.0


def clipped_surrogate(logp, old_logp, adv, clip_eps=0.2, dual_clip=3.0):
    """Per-token PPO policy loss max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)), with the
    dual clip min(·, −c·A) for A < 0 when dual_clip (c > 1) is set.

    Returns (loss, ratio, clipped) where clipped marks tokens whose ratio left
    [1−ε, 1+ε]."""
    ratio = torch.exp(logp - old_logp)
    loss1 = -adv * ratio
    loss2 = -adv * torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    loss = torch.max(loss1, loss2)
    if dual_clip:
        loss = torch.where(adv < 0, torch.min(loss, -dual_clip * adv), loss)
    clipped = ((ratio - 1.0).abs() > clip_eps).float()
    return loss, ratio, clipped


def value_loss(values, old_values, returns, clip=0.2):
    """Clipped value loss 0.5·max((V − R)², (V_old + clip(V − V_old, ±c) − R)²)
    per token; clip 0 or None disables clipping."""
    l1 = (values - returns) ** 2
    if not clip:
        return 0.5 * l1
    vc = old_values + torch.clamp(values - old_values, -clip, clip)
    l2 = (vc - returns) ** 2
    return 0.5 * torch.max(l1, l2)


def gae(rewards, values, gamma=1.0, lam=0.95):
    """Generalised advantage estimation over one sequence of trainable tokens
    (1-D tensors of equal length; the state after the last token is terminal).

    δt = rt + γ·V(t+1) − Vt, At = δt + γλ·A(t+1); returns = A + V."""
    n = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = 0.0
    for t in range(n - 1, -1, -1):
        next_v = values[t + 1] if t + 1 < n else 0.0
        delta = rewards[t] + gamma * next_v - values[t]
        last = delta + gamma * lam * last
        adv[t] = last
    return adv, adv + values


def masked_sum(x, mask):
    return (x * mask).sum()


def masked_mean(x, mask):
    n = mask.sum()
    return (x * mask).sum() / n.clamp(min=1.0)


def masked_whiten(x, mask, eps=1e-8, stats=None):
    """(x − mean) / (std + eps) over masked entries (population std), masked
    entries set to 0. stats = (sum, sum of squares, count) overrides the
    local statistics (used to whiten across data-parallel ranks)."""
    if stats is None:
        s, ss, n = (x * mask).sum(), (x * x * mask).sum(), mask.sum()
    else:
        s, ss, n = stats
    n = max(float(n), 1.0)
    mean = float(s) / n
    var = max(float(ss) / n - mean * mean, 0.0)
    return (x - mean) / (math.sqrt(var) + eps) * mask

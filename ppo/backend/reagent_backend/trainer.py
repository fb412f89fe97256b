"""GRPO and PPO updates of a Policy from multi-turn chat samples.

One call of Trainer.train is one training step: validate and tokenize the
whole request (nothing is touched if anything is wrong), recompute the old
and reference log-probs (and PPO values) with the current weights, compute
advantages, then run epochs × minibatches of AdamW updates with gradient
clipping. Only trainable (assistant) tokens get loss.
"""

import json
import logging
import math
import os
import shutil
import time

import torch

from . import losses
from .chat import PayloadError, normalize_messages, require_number

log = logging.getLogger("reagent_backend.trainer")

ALGOS = ("grpo", "ppo")

# name: (default, lo, hi, lo_open, integer)
_NUMBERS = {
    "lr": (None, 0.0, 1.0, True, False),
    "epochs": (1, 1, 100, False, True),
    "minibatch_size": (0, 0, None, False, True),
    "micro_batch_size": (4, 1, None, False, True),
    "clip_eps": (0.2, 0.0, 1.0, True, False),
    "dual_clip": (3.0, 0.0, None, False, False),
    "kl_coef": (None, 0.0, None, False, False),
    "temperature": (1.0, 0.01, None, False, False),
    "max_grad_norm": (1.0, 0.0, None, False, False),
    "weight_decay": (0.0, 0.0, None, False, False),
    "gamma": (1.0, 0.0, 1.0, False, False),
    "lam": (0.95, 0.0, 1.0, False, False),
    "value_clip": (0.2, 0.0, None, False, False),
    "vf_coef": (0.5, 0.0, None, False, False),
    "entropy_coef": (0.0, 0.0, None, False, False),
    "max_seq_len": (0, 0, None, False, True),
    "seed": (None, 0, 2 ** 62, False, True),
}
# truncate: cut a sample longer than the context at the limit (keeping its
# prompt and first tokens) instead of refusing the request.
_BOOLS = {"whiten_advantages": True, "truncate": False}
DEFAULT_KL = {"grpo": 0.001, "ppo": 0.01}


class Sample:
    """One tokenized training sample."""

    __slots__ = ("ids", "mask", "reward", "group", "adv", "old_logp", "ref_logp", "old_v", "ret")

    def __init__(self, ids, mask, reward, group):
        self.ids, self.mask, self.reward, self.group = ids, mask, reward, group
        self.adv = self.old_logp = self.ref_logp = self.old_v = self.ret = None


class Job:
    """A validated training request."""

    def __init__(self, algo, config, samples, n_groups):
        self.algo, self.config, self.samples, self.n_groups = algo, config, samples, n_groups
        self.truncated = 0


def parse_config(raw, algo, default_lr):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PayloadError("config: must be an object")
    unknown = sorted(set(raw) - set(_NUMBERS) - set(_BOOLS))
    if unknown:
        raise PayloadError("config: unknown keys %s (known: %s)" % (unknown, ", ".join(sorted(list(_NUMBERS) + list(_BOOLS)))))
    cfg = {}
    for k, (default, lo, hi, lo_open, integer) in _NUMBERS.items():
        cfg[k] = require_number(raw, k, "config", default, lo=lo, hi=hi, lo_open=lo_open, integer=integer)
    for k, default in _BOOLS.items():
        v = raw.get(k, default)
        if not isinstance(v, bool):
            raise PayloadError("config.%s: must be true or false" % k)
        cfg[k] = v
    if cfg["lr"] is None:
        cfg["lr"] = default_lr
    if cfg["kl_coef"] is None:
        cfg["kl_coef"] = DEFAULT_KL[algo]
    if cfg["dual_clip"] and cfg["dual_clip"] <= 1.0:
        raise PayloadError("config.dual_clip: must be 0 (off) or greater than 1, got %s" % cfg["dual_clip"])
    return cfg


class Trainer:
    """Owns the optimizer and step count of one Policy."""

    def __init__(self, policy, algo="grpo", lr=1e-6, seed=0, model_name="", dist=None):
        if algo not in ALGOS:
            raise ValueError("algo must be grpo or ppo")
        self.policy = policy
        self.algo = algo
        self.default_lr = lr
        self.seed = seed
        self.model_name = model_name or policy.name
        self.step = 0
        self.optimizer_steps = 0
        self.dist = dist
        self.optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    # --- validation ---------------------------------------------------------
    def prepare(self, body):
        """Validate a /v1/train body completely and tokenize it. Raises
        PayloadError; never touches the model."""
        if not isinstance(body, dict):
            raise PayloadError("body: must be a JSON object")
        unknown = sorted(set(body) - {"algo", "groups", "config", "model", "metadata"})
        if unknown:
            raise PayloadError("body: unknown keys %s" % unknown)
        algo = body.get("algo") or self.algo
        if algo not in ALGOS:
            raise PayloadError("algo: must be \"grpo\" or \"ppo\", got %r" % (algo,))
        model = body.get("model")
        if model is not None and model not in ("", self.model_name):
            raise PayloadError("model: this backend trains %r, not %r" % (self.model_name, model))
        cfg = parse_config(body.get("config"), algo, self.default_lr)
        groups = body.get("groups")
        if not isinstance(groups, list) or not groups:
            raise PayloadError("groups: must be a non-empty list")
        limit = self.policy.max_seq
        if cfg["max_seq_len"]:
            limit = min(limit, cfg["max_seq_len"])
        samples = []
        truncated = 0
        for gi, g in enumerate(groups):
            w = "groups[%d]" % gi
            if not isinstance(g, dict):
                raise PayloadError("%s: must be an object with \"samples\"" % w)
            ss = g.get("samples")
            if not isinstance(ss, list) or not ss:
                raise PayloadError("%s.samples: must be a non-empty list" % w)
            for si, s in enumerate(ss):
                ws = "%s.samples[%d]" % (w, si)
                if not isinstance(s, dict):
                    raise PayloadError("%s: must be an object" % ws)
                if "reward" not in s:
                    raise PayloadError("%s.reward: missing" % ws)
                reward = require_number(s, "reward", ws, None)
                if reward is None:
                    raise PayloadError("%s.reward: must be a number, got null" % ws)
                msgs = normalize_messages(s.get("messages"), ws + ".messages")
                trainable = s.get("trainable")
                if trainable is not None:
                    if not isinstance(trainable, list) or len(trainable) != len(msgs) or not all(isinstance(t, bool) for t in trainable):
                        raise PayloadError("%s.trainable: must be a list of %d booleans, one per message" % (ws, len(msgs)))
                    for mi, t in enumerate(trainable):
                        if t and msgs[mi]["role"] != "assistant":
                            raise PayloadError("%s.trainable[%d]: only assistant messages can be trainable, this one is %r" % (ws, mi, msgs[mi]["role"]))
                tools = s.get("tools")
                if tools is not None and not isinstance(tools, list):
                    raise PayloadError("%s.tools: must be a list" % ws)
                ids, mask = self.policy.encode_chat(msgs, trainable, add_generation_prompt=False, tools=tools)
                if len(ids) > limit:
                    if not cfg["truncate"]:
                        raise PayloadError("%s: %d tokens, more than the limit of %d (set config.truncate to cut it)" % (ws, len(ids), limit))
                    ids, mask = ids[:limit], mask[:limit]
                    truncated += 1
                if not any(mask[1:]):
                    raise PayloadError("%s: no trainable tokens (it needs at least one assistant message with content or tool calls)" % ws)
                samples.append(Sample(ids, mask, reward, gi))
        if self.dist is not None and self.dist.world > 1 and len(samples) < self.dist.world:
            raise PayloadError("%d samples cannot be split over %d ranks" % (len(samples), self.dist.world))
        job = Job(algo, cfg, samples, len(groups))
        job.truncated = truncated
        return job

    # --- batching -----------------------------------------------------------
    def _collate(self, samples):
        dev = self.policy.device
        T = max(len(s.ids) for s in samples)
        ids = torch.full((len(samples), T), self.policy.pad_id, dtype=torch.long)
        attn = torch.zeros((len(samples), T), dtype=torch.long)
        mask = torch.zeros((len(samples), T), dtype=torch.float32)
        for i, s in enumerate(samples):
            n = len(s.ids)
            ids[i, :n] = torch.tensor(s.ids)
            attn[i, :n] = 1
            mask[i, :n] = torch.tensor(s.mask, dtype=torch.float32)
        return ids.to(dev), attn.to(dev), mask[:, 1:].to(dev)

    def _pad(self, samples, attr, T):
        out = torch.zeros((len(samples), T), dtype=torch.float32, device=self.policy.device)
        for i, s in enumerate(samples):
            v = getattr(s, attr)
            out[i, : v.shape[0]] = v
        return out

    def _micro(self, samples, size):
        for i in range(0, len(samples), size):
            yield samples[i : i + size]

    # --- the step -----------------------------------------------------------
    def train(self, job):
        """Run one training step on a prepared Job and return its metrics."""
        t0 = time.time()
        cfg, algo = job.config, job.algo
        pol = self.policy
        rank, world = (self.dist.rank, self.dist.world) if self.dist else (0, 1)
        all_samples = job.samples

        # GRPO advantages need every reward of a group: compute before sharding.
        if algo == "grpo":
            by_group = {}
            for s in all_samples:
                by_group.setdefault(s.group, []).append(s)
            for members in by_group.values():
                a = losses.grpo_advantages([m.reward for m in members])
                for m, v in zip(members, a.tolist()):
                    m.adv = v
        local = all_samples[rank::world]
        temp = cfg["temperature"]
        kl_coef = cfg["kl_coef"]

        # Old log-probs (and values, reference log-probs) with current weights.
        pol.train_mode(False)
        with torch.no_grad():
            for mb in self._micro(local, cfg["micro_batch_size"]):
                ids, attn, mask = self._collate(mb)
                logits, hidden = pol.forward(ids, attn, want_hidden=(algo == "ppo"))
                old = losses.token_log_probs(logits[:, :-1], ids[:, 1:], temp)
                # The reference pass also runs when β = 0: KL is always reported.
                ref = losses.token_log_probs(pol.ref_logits(ids, attn)[:, :-1], ids[:, 1:], temp)
                vals = pol.values(hidden)[:, :-1] if algo == "ppo" else None
                for i, s in enumerate(mb):
                    n = len(s.ids) - 1
                    s.old_logp, s.ref_logp = old[i, :n].clone(), ref[i, :n].clone()
                    if vals is not None:
                        s.old_v = vals[i, :n].clone()
                del logits, hidden

        # PPO: token rewards (−β·k1, sequence reward at the last trainable
        # token), GAE over trainable tokens, then whitening.
        if algo == "ppo":
            for s in local:
                m = torch.tensor(s.mask[1:], dtype=torch.bool, device=pol.device)
                idx = m.nonzero().squeeze(-1)
                r = -kl_coef * losses.kl_k1(s.old_logp[idx], s.ref_logp[idx])
                r[-1] = r[-1] + s.reward
                a, ret = losses.gae(r, s.old_v[idx], cfg["gamma"], cfg["lam"])
                s.adv = torch.zeros_like(s.old_logp)
                s.ret = torch.zeros_like(s.old_logp)
                s.adv[idx], s.ret[idx] = a, ret
            if cfg["whiten_advantages"]:
                st = torch.zeros(3, dtype=torch.float64, device=pol.device)
                for s in local:
                    m = torch.tensor(s.mask[1:], dtype=torch.float32, device=pol.device)
                    st += torch.stack([(s.adv * m).sum(), (s.adv * s.adv * m).sum(), m.sum()]).double()
                if world > 1:
                    self.dist.all_reduce(st)
                for s in local:
                    m = torch.tensor(s.mask[1:], dtype=torch.float32, device=pol.device)
                    s.adv = losses.masked_whiten(s.adv, m, stats=tuple(st.tolist()))

        # Updates.
        for g in self.optimizer.param_groups:
            g["lr"] = cfg["lr"]
            g["weight_decay"] = cfg["weight_decay"]
        params = pol.parameters() if algo == "ppo" else [p for p in pol.model.parameters() if p.requires_grad]
        n_global = len(all_samples)
        mb_size = cfg["minibatch_size"] or n_global
        n_mb = max(1, math.ceil(n_global / mb_size))
        seed = cfg["seed"] if cfg["seed"] is not None else self.seed
        acc = {k: 0.0 for k in ("pg", "vf", "k3", "k1", "clip", "ent", "ratio", "tok")}
        grad_norms, skipped = [], 0
        pol.train_mode(True)
        for epoch in range(cfg["epochs"]):
            g = torch.Generator().manual_seed((seed * 1000003 + self.step * 1009 + epoch) % (2 ** 63))
            order = [local[i] for i in torch.randperm(len(local), generator=g).tolist()]
            chunks = _split(order, n_mb)
            counts = torch.tensor([float(sum(sum(s.mask[1:]) for s in c)) for c in chunks], dtype=torch.float64)
            if world > 1:
                counts = counts.to(pol.device)
                self.dist.all_reduce(counts)
                counts = counts.cpu()
            for ci, chunk in enumerate(chunks):
                n_tok = max(float(counts[ci]), 1.0)
                self.optimizer.zero_grad(set_to_none=True)
                for mb in self._micro(chunk, cfg["micro_batch_size"]):
                    self._loss_backward(mb, algo, cfg, n_tok, acc)
                if world > 1:
                    self.dist.sync_grads(params)
                if cfg["max_grad_norm"] > 0:
                    gn = torch.nn.utils.clip_grad_norm_(params, cfg["max_grad_norm"])
                else:
                    gn = _grad_norm(params)
                gn = float(gn)
                if not math.isfinite(gn):
                    skipped += 1
                    self.optimizer.zero_grad(set_to_none=True)
                    log.warning("non-finite gradient norm; optimizer step skipped")
                    continue
                grad_norms.append(gn)
                self.optimizer.step()
                self.optimizer_steps += 1
        self.optimizer.zero_grad(set_to_none=True)
        pol.train_mode(False)

        local_tokens = float(sum(len(s.ids) for s in local))
        local_train = float(sum(sum(s.mask[1:]) for s in local))
        tot = torch.tensor([acc["pg"], acc["vf"], acc["k3"], acc["k1"], acc["clip"], acc["ent"], acc["ratio"], acc["tok"],
                            local_tokens, local_train], dtype=torch.float64)
        if world > 1:
            tot = tot.to(pol.device)
            self.dist.all_reduce(tot)
            tot = tot.cpu()
        pg, vf, k3, k1, clip, ent, ratio, tok, tokens, train_tokens = tot.tolist()
        tok = max(tok, 1.0)
        self.step += 1
        elapsed = time.time() - t0
        rewards = [s.reward for s in all_samples]
        metrics = {
            "step": self.step,
            "algo": algo,
            "policy_loss": pg / tok,
            "value_loss": vf / tok if algo == "ppo" else 0.0,
            "kl": k3 / tok,
            "kl_k1": k1 / tok,
            "clip_fraction": clip / tok,
            "entropy": ent / tok,
            "ratio_mean": ratio / tok,
            "grad_norm": sum(grad_norms) / len(grad_norms) if grad_norms else 0.0,
            "grad_norm_max": max(grad_norms) if grad_norms else 0.0,
            "optimizer_steps": len(grad_norms),
            "skipped_steps": skipped,
            "samples": len(all_samples),
            "truncated_samples": job.truncated,
            "groups": job.n_groups,
            "tokens": int(tokens),
            "trainable_tokens": int(train_tokens),
            "tokens_per_second": tokens * cfg["epochs"] / elapsed if elapsed > 0 else 0.0,
            "reward_mean": sum(rewards) / len(rewards),
            "elapsed_s": elapsed,
            "lr": cfg["lr"],
        }
        for s in all_samples:  # free per-token tensors
            s.old_logp = s.ref_logp = s.old_v = s.ret = None
        return metrics

    def _loss_backward(self, mb, algo, cfg, n_tok, acc):
        pol = self.policy
        ids, attn, mask = self._collate(mb)
        T = ids.shape[1] - 1
        logits, hidden = pol.forward(ids, attn, want_hidden=(algo == "ppo"))
        logits = logits[:, :-1]
        logp = losses.token_log_probs(logits, ids[:, 1:], cfg["temperature"])
        old = self._pad(mb, "old_logp", T)
        ref = self._pad(mb, "ref_logp", T)
        if algo == "grpo":
            adv = torch.tensor([s.adv for s in mb], dtype=torch.float32, device=pol.device)[:, None] * mask
        else:
            adv = self._pad(mb, "adv", T)
        pg, ratio, clipped = losses.clipped_surrogate(logp, old, adv, cfg["clip_eps"], cfg["dual_clip"])
        k3 = losses.kl_k3(logp, ref)
        loss = losses.masked_sum(pg, mask)
        vf_sum = torch.zeros((), device=pol.device)
        if algo == "grpo" and cfg["kl_coef"] > 0:
            loss = loss + cfg["kl_coef"] * losses.masked_sum(k3, mask)
        if algo == "ppo":
            v = pol.values(hidden)[:, :-1]
            vl = losses.value_loss(v, self._pad(mb, "old_v", T), self._pad(mb, "ret", T), cfg["value_clip"])
            vf_sum = losses.masked_sum(vl, mask)
            loss = loss + cfg["vf_coef"] * vf_sum
        if cfg["entropy_coef"] > 0:
            ent = losses.entropy_from_logits(logits, cfg["temperature"])
            loss = loss - cfg["entropy_coef"] * losses.masked_sum(ent, mask)
        else:
            with torch.no_grad():
                ent = losses.entropy_from_logits(logits.detach(), cfg["temperature"])
        # Token mean over the whole (global) minibatch; ranks sum gradients.
        (loss / n_tok).backward()
        with torch.no_grad():
            acc["pg"] += float(losses.masked_sum(pg, mask))
            acc["vf"] += float(vf_sum)
            acc["k3"] += float(losses.masked_sum(k3, mask))
            acc["k1"] += float(losses.masked_sum(logp - ref, mask))
            acc["clip"] += float(losses.masked_sum(clipped, mask))
            acc["ent"] += float(losses.masked_sum(ent, mask))
            acc["ratio"] += float(losses.masked_sum(ratio, mask))
            acc["tok"] += float(mask.sum())

    # --- checkpoints ----------------------------------------------------------
    def save_checkpoint(self, out_dir):
        """Write weights, optimizer state and step to out_dir atomically (a
        temporary sibling folder renamed into place)."""
        out_dir = os.path.abspath(out_dir)
        parent = os.path.dirname(out_dir)
        os.makedirs(parent, exist_ok=True)
        tmp = "%s.tmp-%d" % (out_dir, os.getpid())
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
        self.policy.save(tmp)
        torch.save(self.optimizer.state_dict(), os.path.join(tmp, "optimizer.pt"))
        state = {"format": "reagent-checkpoint/1", "step": self.step, "optimizer_steps": self.optimizer_steps,
                 "algo": self.algo, "model": self.model_name, "kind": self.policy.kind, "seed": self.seed,
                 "lr": self.default_lr, "saved_at": time.time()}
        with open(os.path.join(tmp, "state.json"), "w") as f:
            json.dump(state, f, indent=2, sort_keys=True)
        old = None
        if os.path.exists(out_dir):
            old = "%s.old-%d" % (out_dir, os.getpid())
            os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        return state

    def load_state(self, ckpt_dir):
        """Restore optimizer state and step from a checkpoint folder (the
        weights are loaded when the policy is built)."""
        with open(os.path.join(ckpt_dir, "state.json")) as f:
            state = json.load(f)
        opt = torch.load(os.path.join(ckpt_dir, "optimizer.pt"), map_location="cpu")
        self.optimizer.load_state_dict(opt)
        self.step = int(state.get("step", 0))
        self.optimizer_steps = int(state.get("optimizer_steps", 0))
        return state


def is_checkpoint(d):
    return bool(d) and os.path.exists(os.path.join(d, "state.json"))


def _split(items, n):
    """Split items into n contiguous chunks whose sizes differ by at most one."""
    q, r = divmod(len(items), n)
    out, i = [], 0
    for k in range(n):
        size = q + (1 if k < r else 0)
        out.append(items[i : i + size])
        i += size
    return out


def _grad_norm(params):
    norms = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    if not norms:
        return 0.0
    return float(torch.stack(norms).norm())

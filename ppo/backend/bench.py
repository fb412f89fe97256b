#!/usr/bin/env python3
"""Training throughput of one GRPO step against a plain training loop.

Measures, in the same run and on the same batch and weights:
  plain  forward + backward + AdamW step (token-mean cross-entropy on the
         trainable tokens): the cost of training with no RL machinery;
  grpo   one full GRPO step of reagent_backend's Trainer: old log-probs and
         reference log-probs recomputed (two extra forward passes), group
         advantages, clipped surrogate + k3 KL, backward, clipping, AdamW;
and reports tokens per second, achieved TFLOP/s, model FLOPs utilisation
(MFU) and the ratio grpo / plain.

Model FLOPs per token: forward 2·N + 2·L·T·d (N: parameters used in matmuls,
the tied output embedding included; the second term is attention scores and
values over T positions), backward twice the forward. The GRPO step counts
what it must compute: its fwd+bwd and its two extra forwards.

    python3 bench.py --device cpu                       # built-in tiny model
    python3 bench.py --device cuda --model qwen2.5-0.5b # needs transformers

The GPU model is built from Qwen2.5-0.5B's configuration with random weights
(nothing is downloaded).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from reagent_backend import losses, policy, tiny, trainer  # noqa: E402

QWEN25_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                  rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, hidden_act="silu")

PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "H800": 989.4, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "4090": 165.2}


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def build_policy(args, dev):
    if args.model == "tiny":
        cfg = json.loads(args.tiny_config) if args.tiny_config else None
        pol = policy.TinyPolicy(dev, config=cfg, seed=0, gradient_checkpointing=args.gradient_checkpointing)
        c = pol.model.config
        info = {"name": "tiny", "d": c["d_model"], "layers": c["n_layer"], "vocab": tiny.VOCAB_SIZE,
                "params": pol.model.num_params(),
                "matmul_params": pol.model.num_params() - pol.model.pos_emb.weight.numel()}
        return pol, info
    import transformers

    if args.model == "qwen2.5-0.5b":
        conf = transformers.Qwen2Config(**QWEN25_05B)
        name = "Qwen2.5-0.5B-shaped (random weights)"
    else:
        conf = transformers.AutoConfig.from_pretrained(args.model)
        name = args.model + " (config only, random weights)"
    if hasattr(conf, "_attn_implementation"):
        conf._attn_implementation = args.attn
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(conf)
    pol = policy.HFPolicy(dev, model=model, dtype=args.dtype, gradient_checkpointing=args.gradient_checkpointing)
    n = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    tied = getattr(conf, "tie_word_embeddings", False)
    # The input embedding is a lookup; the output projection is a matmul
    # (the same tensor when tied).
    matmul = n if tied else n - emb
    return pol, {"name": name, "d": conf.hidden_size, "layers": conf.num_hidden_layers, "vocab": conf.vocab_size,
                 "params": n, "matmul_params": matmul}


def make_samples(args, info):
    g = torch.Generator().manual_seed(1)
    samples = []
    prompt = max(1, int(args.seq * args.prompt_frac))
    for i in range(args.batch):
        if args.model == "tiny":
            body = torch.randint(0, 256, (args.seq - 2,), generator=g).tolist()
            ids = [tiny.BOS] + body + [tiny.END]
        else:
            ids = torch.randint(0, info["vocab"], (args.seq,), generator=g).tolist()
        mask = [0] * prompt + [1] * (args.seq - prompt)
        reward = float(torch.rand((), generator=g))
        samples.append(trainer.Sample(ids, mask, reward, i // args.group))
    return samples


def flops_per_token(info, seq):
    fwd = 2 * info["matmul_params"] + 2 * info["layers"] * seq * info["d"]
    return fwd, 3 * fwd  # forward, forward+backward


def plain_step(pol, opt, samples, tr, micro, max_norm):
    """Forward, backward and AdamW on the same batch, nothing else."""
    pol.train_mode(True)
    opt.zero_grad(set_to_none=True)
    n_tok = float(sum(sum(s.mask[1:]) for s in samples))
    for i in range(0, len(samples), micro):
        ids, attn, mask = tr._collate(samples[i : i + micro])
        logits, _ = pol.forward(ids, attn, want_hidden=False)
        logp = losses.token_log_probs(logits[:, :-1], ids[:, 1:])
        (-(logp * mask).sum() / n_tok).backward()
    params = [p for p in pol.model.parameters() if p.requires_grad]
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    opt.step()
    pol.train_mode(False)


def cpu_peak_gflops(dev, clock, seconds=2.0):
    """Best fp32 matmul throughput this process gets (the CPU 'peak')."""
    a = torch.randn(1024, 1024, device=dev)
    b = torch.randn(1024, 1024, device=dev)
    best = 0.0
    end = time.time() + seconds
    while time.time() < end:
        t0 = clock()
        for _ in range(4):
            a @ b
        dt = clock() - t0
        if dt > 0:
            best = max(best, 4 * 2 * 1024 ** 3 / dt / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default="tiny", help="tiny, qwen2.5-0.5b, or a folder with a Hugging Face config.json")
    ap.add_argument("--tiny-config", default="")
    ap.add_argument("--batch", type=int, default=0, help="samples per step (default 8 on CPU, 16 on CUDA)")
    ap.add_argument("--group", type=int, default=8, help="GRPO group size")
    ap.add_argument("--seq", type=int, default=0, help="tokens per sample (default 256 on CPU, 1024 on CUDA)")
    ap.add_argument("--prompt-frac", type=float, default=0.25, help="leading share of each sample that is prompt (masked)")
    ap.add_argument("--micro-batch", type=int, default=0, help="samples per forward/backward (default 8 on CPU, 4 on CUDA)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--dtype", default="auto", help="HF models: auto (fp32 master + bf16 autocast on CUDA), float32, bfloat16")
    ap.add_argument("--attn", default="sdpa", help="HF attention implementation (sdpa, flash_attention_2, eager)")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=0, help="device peak for MFU (default: bf16 dense table on CUDA, measured fp32 matmul on CPU)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--clock", default="", choices=["", "wall", "process"],
                    help="wall time, or this process's CPU time (default: wall on CUDA, process on CPU, where a shared "
                         "machine's other load would otherwise show in the figures)")
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args()
    cuda = args.device.startswith("cuda")
    args.batch = args.batch or (16 if cuda else 8)
    args.seq = args.seq or (1024 if cuda else 256)
    args.micro_batch = args.micro_batch or (4 if cuda else 8)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = policy.resolve_device(args.device)
    args.clock = args.clock or ("wall" if cuda else "process")
    clock = time.process_time if args.clock == "process" else time.perf_counter

    pol, info = build_policy(args, dev)
    samples = make_samples(args, info)
    tr = trainer.Trainer(pol, algo="grpo", lr=1e-6, seed=0)
    cfg = trainer.parse_config({"micro_batch_size": args.micro_batch}, "grpo", 1e-6)
    job = trainer.Job("grpo", cfg, samples, (args.batch + args.group - 1) // args.group)
    opt = torch.optim.AdamW(pol.parameters(), lr=1e-6)

    tokens = sum(len(s.ids) for s in samples)
    fwd, fwdbwd = flops_per_token(info, args.seq)
    plain_flops = tokens * fwdbwd
    grpo_flops = tokens * (fwdbwd + 2 * fwd)
    if args.peak_tflops:
        peak, peak_src = args.peak_tflops * 1e12, "given"
    elif cuda:
        name = torch.cuda.get_device_name(dev)
        match = [v for k, v in PEAK_TFLOPS.items() if k in name]
        peak, peak_src = (match[0] * 1e12, "bf16 dense spec of " + name) if match else (0.0, "unknown GPU " + name)
    else:
        peak, peak_src = cpu_peak_gflops(dev, clock) * 1e9, "measured fp32 1024² matmul"

    times = {"plain": [], "grpo": []}
    for i in range(args.warmup + args.steps):
        for kind in ("plain", "grpo"):  # interleaved, so drift hits both alike
            sync(dev)
            t0 = clock()
            if kind == "plain":
                plain_step(pol, opt, samples, tr, args.micro_batch, 1.0)
            else:
                tr.train(job)
            sync(dev)
            if i >= args.warmup:
                times[kind].append(clock() - t0)

    if not cuda and not args.peak_tflops:
        # Measure the CPU peak again after the steps and keep the best: on a
        # shared machine one measurement may catch a busy moment.
        peak = max(peak, cpu_peak_gflops(dev, clock) * 1e9)
    res = {"model": info, "device": torch.cuda.get_device_name(dev) if cuda else platform.processor() or platform.machine(),
           "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": args.batch, "seq": args.seq,
           "micro_batch": args.micro_batch, "tokens_per_step": tokens, "steps": args.steps,
           "peak_tflops": peak / 1e12, "peak_source": peak_src, "loadavg": list(os.getloadavg()),
           "clock": args.clock}
    for kind, flops in (("plain", plain_flops), ("grpo", grpo_flops)):
        t = statistics.median(times[kind])
        res[kind] = {"step_s": t, "tokens_per_s": tokens / t, "tflops": flops / t / 1e12,
                     "mfu": (flops / t / peak) if peak else None, "all_step_s": times[kind]}
    res["grpo_over_plain_tokens_per_s"] = res["grpo"]["tokens_per_s"] / res["plain"]["tokens_per_s"]
    res["ideal_ratio"] = fwdbwd / (fwdbwd + 2 * fwd)
    print("model: %s, %.1fM params; %s; torch %s, %d threads" % (info["name"], info["params"] / 1e6, res["device"], res["torch"], res["threads"]))
    print("batch %d × %d tokens (micro-batch %d), median of %d steps, %s time; peak %.4f TFLOP/s (%s); load average %.1f" % (
        args.batch, args.seq, args.micro_batch, args.steps, "CPU" if args.clock == "process" else "wall", peak / 1e12,
        peak_src, os.getloadavg()[0]))
    print("| loop | step (s) | tokens/s | TFLOP/s | MFU |")
    print("| --- | --- | --- | --- | --- |")
    for kind in ("plain", "grpo"):
        r = res[kind]
        print("| %s | %.3f | %.0f | %.4f | %s |" % (kind, r["step_s"], r["tokens_per_s"], r["tflops"],
                                                   "%.1f%%" % (100 * r["mfu"]) if r["mfu"] is not None else "n/a"))
    print("GRPO/plain tokens per second: %.3f (%.3f if the two extra forward passes were free of overhead)" % (
        res["grpo_over_plain_tokens_per_s"], res["ideal_ratio"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

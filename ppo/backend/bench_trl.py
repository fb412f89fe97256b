"""reagent's GRPO against TRL's GRPOTrainer, side by side, on CPU.

Both train SmolLM2-135M-Instruct with LoRA (same rank, alpha, target
modules) on the same prompts with the same group size, completion length,
sampling temperature, learning rate, clip ε and KL β, for the same number of
steps, in one process, one after the other. Each step is a full rollout
(sample G completions per prompt with the current policy) plus one
optimizer step. Reported, per side (median over the timed steps):

- step tokens/s: tokens of the batch (prompt + completion, every sample) per
  second of the training part (log-probs, loss, backward, AdamW);
- rollout+step tokens/s: the same tokens per second of the whole step;
- the ratio ours / TRL for both.

TRL's training part is its step time minus the time spent in its
_generate_and_score_completions (timed by wrapping that method); ours is
reagent_backend's Trainer.train, after generate.sample. TRL with
num_iterations=1 reuses the current log-probs as the "old" ones (no extra
forward pass); reagent's trainer always recomputes them (one forward more),
and both compute reference log-probs (β > 0) with the adapters off.

    python bench_trl.py --model "$REAGENT_SMOLLM2" --steps 3 --warmup 1 --json bench-trl.json

Needs TRL: pip install -r requirements-bench.txt (on top of
requirements.txt).
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PROMPTS = [
    "What is 17 + 25? Answer with the number.",
    "What is 9 * 8? Answer with the number.",
    "Name the capital of France in one word.",
    "What is 100 - 37? Answer with the number.",
]
ANSWERS = ["42", "72", "Paris", "63"]


def reward_fn(completion, answer):
    """1 for the answer, plus a small length term so that a group's rewards
    differ (equal rewards give zero advantages, and a trainer may skip
    work on them)."""
    return (1.0 if answer.lower() in completion.lower() else 0.0) + 0.01 * min(len(completion), 100)


def bench_ours(args, torch):
    from reagent_backend import generate, policy, trainer

    ns = argparse.Namespace(model=args.model, device=args.device, init="", tiny_config="", checkpoint="", algo="grpo",
                            seed=args.seed, lr=args.lr, dtype=args.dtype, lora_rank=args.lora_rank,
                            lora_alpha=args.lora_alpha, gradient_checkpointing=False, threads=args.threads)
    torch.manual_seed(args.seed)
    pol = policy.build(ns)
    tr = trainer.Trainer(pol, algo="grpo", lr=args.lr, seed=args.seed)
    gen = torch.Generator(device=pol.device).manual_seed(args.seed)
    cfg = {"lr": args.lr, "kl_coef": args.beta, "clip_eps": args.epsilon, "temperature": args.temperature, "epochs": 1}
    rows = []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        groups, tokens = [], 0
        for p, ans in zip(PROMPTS[: args.prompts], ANSWERS):
            msgs = [{"role": "user", "content": p, "name": "", "tool_calls": [], "tool_call_id": ""}]
            ids, _ = pol.encode_chat(msgs, add_generation_prompt=True)
            outs = generate.sample(pol, ids, n=args.group, max_tokens=args.max_completion, temperature=args.temperature,
                                   top_p=1.0, generator=gen)
            samples = []
            for o in outs:
                tokens += len(ids) + len(o["ids"]) + (1 if o["finish"] == "stop" else 0)
                samples.append({"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": o["text"]}],
                                "reward": reward_fn(o["text"], ans)})
            groups.append({"samples": samples})
        t1 = time.perf_counter()
        m = tr.train(tr.prepare({"groups": groups, "config": cfg}))
        t2 = time.perf_counter()
        if step >= args.warmup:
            rows.append({"tokens": tokens, "rollout_s": t1 - t0, "train_s": t2 - t1, "trained_tokens": m["tokens"]})
    return rows


def bench_trl(args, torch):
    import datasets
    import peft
    import transformers
    import trl

    torch.manual_seed(args.seed)
    tok = transformers.AutoTokenizer.from_pretrained(args.model)
    model = transformers.AutoModelForCausalLM.from_pretrained(args.model, dtype=getattr(torch, args.dtype))
    ds = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": p}], "answer": a}
                                     for p, a in zip(PROMPTS[: args.prompts], ANSWERS)] * (args.warmup + args.steps))

    def reward(completions, answer, **kw):
        return [reward_fn(c[0]["content"] if isinstance(c, list) else c, a) for c, a in zip(completions, answer)]

    out = os.path.join(args.workdir, "trl-out")
    conf = trl.GRPOConfig(output_dir=out, per_device_train_batch_size=args.group * args.prompts, num_generations=args.group,
                          max_completion_length=args.max_completion, temperature=args.temperature, top_p=1.0,
                          learning_rate=args.lr, beta=args.beta, epsilon=args.epsilon, num_iterations=1, loss_type="grpo",
                          scale_rewards="group", max_steps=args.warmup + args.steps, logging_steps=1, report_to="none",
                          use_cpu=args.device == "cpu", bf16=args.dtype == "bfloat16", save_strategy="no", seed=args.seed,
                          disable_dropout=True, dataloader_num_workers=0, lr_scheduler_type="constant", warmup_steps=0)
    lcfg = peft.LoraConfig(r=args.lora_rank, lora_alpha=args.lora_alpha or 2 * args.lora_rank, lora_dropout=0.0,
                           target_modules="all-linear", task_type="CAUSAL_LM")
    tr = trl.GRPOTrainer(model=model, reward_funcs=reward, args=conf, train_dataset=ds, processing_class=tok, peft_config=lcfg)

    gen_time = []
    inner = tr._generate_and_score_completions
    state = {}

    def timed(*a, **kw):
        t = time.perf_counter()
        res = inner(*a, **kw)
        gen_time.append(time.perf_counter() - t)
        ids, cm = res["prompt_ids"], res["completion_mask"]
        state["tokens"] = int(res["prompt_mask"].sum()) + int(cm.sum())
        return res

    tr._generate_and_score_completions = timed
    rows = []

    class Timer(transformers.TrainerCallback):
        def on_step_begin(self, a, s, c, **kw):
            state["t"] = time.perf_counter()
            state["g"] = len(gen_time)

        def on_step_end(self, a, s, c, **kw):
            dt = time.perf_counter() - state["t"]
            g = sum(gen_time[state["g"]:])
            if s.global_step > args.warmup:
                rows.append({"tokens": state["tokens"], "rollout_s": g, "train_s": dt - g})

    tr.add_callback(Timer())
    tr.train()
    return rows


def summarize(rows):
    tps = [r["tokens"] / r["train_s"] for r in rows]
    full = [r["tokens"] / (r["train_s"] + r["rollout_s"]) for r in rows]
    return {"steps": rows, "step_tokens_per_s": statistics.median(tps), "rollout_step_tokens_per_s": statistics.median(full),
            "tokens_per_step": statistics.median(r["tokens"] for r in rows)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.environ.get("REAGENT_SMOLLM2", ""), help="SmolLM2 Hugging Face folder (REAGENT_SMOLLM2)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--prompts", type=int, default=2)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--max-completion", type=int, default=32)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--beta", type=float, default=0.001)
    ap.add_argument("--epsilon", type=float, default=0.2)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--lora-alpha", type=float, default=16)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (both sides)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--order", default="ours,trl", help="which side runs first")
    ap.add_argument("--workdir", default="/tmp/reagent-bench-trl")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    if not args.model:
        ap.error("--model (or REAGENT_SMOLLM2) is required")
    import torch

    torch.set_num_threads(args.threads)
    res = {"config": {k: v for k, v in vars(args).items() if k not in ("json", "workdir")},
           "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    for side in args.order.split(","):
        rows = bench_ours(args, torch) if side == "ours" else bench_trl(args, torch)
        res[side] = summarize(rows)
        print(json.dumps({side: {k: v for k, v in res[side].items() if k != "steps"}}), flush=True)
    import trl

    res["trl_version"] = trl.__version__
    res["ratio_step"] = res["ours"]["step_tokens_per_s"] / res["trl"]["step_tokens_per_s"]
    res["ratio_rollout_step"] = res["ours"]["rollout_step_tokens_per_s"] / res["trl"]["rollout_step_tokens_per_s"]
    print(json.dumps({"ratio_step": round(res["ratio_step"], 3), "ratio_rollout_step": round(res["ratio_rollout_step"], 3)}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

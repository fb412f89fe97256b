"""One LoRA GRPO step of reagent_backend's trainer on a Hugging Face model,
float32 against bfloat16 weights, 1 and 2 torch threads, on the CPU:
8 samples of 68 tokens, micro-batch 4, one warm-up step, wall clock.

    python bench_dtype.py "$REAGENT_SMOLLM2"
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from reagent_backend import policy, trainer  # noqa: E402


def main(model):
    res = {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__}
    filler = "we add the two numbers and check the result carefully " * 2
    answers = ["The answer is %d because %s." % (i, filler) for i in range(8)]
    body = {"groups": [{"samples": [{"messages": [{"role": "user", "content": "What is 2+3? Explain."},
                                                  {"role": "assistant", "content": a}], "reward": float(i % 2)}
                                    for i, a in enumerate(answers)]}]}
    for dtype in ["float32", "bfloat16"]:
        for threads in [1, 2]:
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            ns = argparse.Namespace(model=model, device="cpu", init="", tiny_config="", checkpoint="", algo="grpo", seed=0,
                                    lr=1e-4, dtype=dtype, lora_rank=8, lora_alpha=0, gradient_checkpointing=False, threads=threads)
            tr = trainer.Trainer(policy.build(ns), algo="grpo", lr=1e-4)
            tr.train(tr.prepare(body))  # warm-up
            t = time.perf_counter()
            m = tr.train(tr.prepare(body))
            dt = time.perf_counter() - t
            res["%s/%dt" % (dtype, threads)] = {"s": round(dt, 2), "tokens": m["tokens"], "tok_per_s": round(m["tokens"] / dt, 1)}
            print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ["REAGENT_SMOLLM2"])

#!/usr/bin/env python3
"""Stage 3 of the embedded policy's recipe (scripts/train-policy.sh): a
short fine-tune that teaches the policy to act on the heuristic judge's
specific critiques, on the arith2 suite (reworded arith, which the stage-2
policy fails often enough to be critiqued).

    critique_mix.py WORK REPLAY OUT [REPLAY_N]

WORK holds, for each seed S of the arith2 training split:
  demos-S.jsonl  `reagent demos --suites arith2 --seed S` (ideal runs)
  crit-S.jsonl   `reagent audit export` of `reagent eval --suite arith2
                 --split train --seed S --strategy c --refine-below 2`:
                 every first answer of the policy (sampled) refined, with
                 the judge's real critique as the agent sees it
REPLAY is the stage-2 mix (sft2.jsonl): REPLAY_N random lines of it
(default 3000) keep what stage 2 taught. OUT gets the mix, shuffled.

The critique samples are made as in stage 2 (policy_mix.critique_samples):
the head of the refined run (system prompt, the reviewer's feedback, the
question) followed by the task's ideal run; "fix" when the first answer was
wrong, "keep" when it was right. They are the only arith2 samples: the mix
has no arith2 question without feedback, so what the policy learns on arith2
is to use the critique.
"""

import glob
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from policy_mix import critique_samples, ideal_by_question, read  # noqa: E402


def main(work, replay, out, replay_n=3000):
    rng = random.Random(5)
    demos, runs = [], []
    for path in sorted(glob.glob(os.path.join(work, "demos-*.jsonl"))):
        demos += read(path)
    for path in sorted(glob.glob(os.path.join(work, "crit-*.jsonl"))):
        # group IDs are per collection: keep them apart by file
        for r in read(path):
            r["group_id"] = os.path.basename(path) + ":" + r["group_id"]
            runs.append(r)
    keep, fix, _ = critique_samples(runs, ideal_by_question(demos))
    old = [line.strip() for line in open(replay) if line.strip()]
    rng.shuffle(old)
    parts = {"critique fix x2": fix * 2, "critique keep": keep}
    lines = []
    for name, xs in parts.items():
        print("%-18s %5d" % (name, len(xs)))
        lines += [json.dumps({"messages": x["messages"], "trainable": x["trainable"], "task": x["task"],
                              "kind": x["kind"]}, sort_keys=True) for x in xs]
    print("%-18s %5d" % ("stage-2 replay", min(replay_n, len(old))))
    lines += old[:replay_n]
    rng.shuffle(lines)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d samples" % len(lines))


if __name__ == "__main__":
    main(*sys.argv[1:4], *(int(a) for a in sys.argv[4:5]))

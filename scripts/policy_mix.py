#!/usr/bin/env python3
"""The training mix of the embedded policy (scripts/train-policy.sh).

    policy_mix.py WORK

reads, in WORK:
  arith.jsonl   `reagent demos` of 3,000 arith tasks (ideal + refined runs)
  suites.jsonl  `reagent demos` of every arith and lookup training task
  web.jsonl     `reagent demos` of every web training task (may be absent)
  crit-*.jsonl  `reagent audit export` of Reagent-C runs on the training
                split with every first answer refined (--refine-below 2):
                the judge's real critiques, as the agent sees them
and writes WORK/sft.jsonl, shuffled.

The critique samples teach both directions: the head of the refined run
(system prompt, the reviewer's feedback, the question) followed by the
task's ideal run. When the first answer was right the feedback is positive
and the target keeps the answer; when it was wrong the target is the
corrected run. Lookup first answers of the stage-1 policy are all wrong, so
its "keep" samples are made from the ideal answer and the judge's positive
critique as it appears in the arith runs.
"""

import json
import random
import sys

CRITIQUE_PREFIX = "Feedback from a reviewer on your reasoning so far (use it to do better): "


def read(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def ideal_by_question(demos):
    out = {}
    for d in demos:
        if d["kind"] != "ideal":
            continue
        user = next(m for m in d["messages"] if m["role"] == "user")
        out[user["content"]] = d
    return out


def with_head(head, ideal, task, kind):
    """head (not trainable) + the ideal run after its system and user
    messages."""
    msgs, train = list(head), [False] * len(head)
    for m, t in zip(ideal["messages"][2:], ideal["trainable"][2:]):
        msgs.append(m)
        train.append(t)
    return {"messages": msgs, "trainable": train, "task": task, "kind": kind}


def critique_samples(runs, ideals):
    """keep/fix samples from exported Reagent-C runs; returns (keep, fix,
    the positive critique text seen)."""
    first = {}
    for r in runs:
        if r["metadata"].get("round") == "0":
            first[r["group_id"], r["metadata"].get("sample")] = r
    keep, fix, positive = [], [], None
    for r in runs:
        if r["metadata"].get("round") != "1" or not r["steps"]:
            continue
        calls = r["steps"][0].get("llm_calls") or []
        if not calls:
            continue
        head = calls[0]["messages"]
        fb = [m for m in head if m["role"] == "system" and m["content"].startswith(CRITIQUE_PREFIX)]
        user = [m for m in head if m["role"] == "user"]
        if not fb or not user or user[0]["content"] not in ideals:
            continue
        head = [{"role": m["role"], "content": m["content"]} for m in head]
        f = first.get((r["group_id"], r["metadata"].get("sample")))
        right = f is not None and f["training"].get("rule_reward") == 1
        s = with_head(head, ideals[user[0]["content"]], r["metadata"].get("task", ""), "keep" if right else "fix")
        if right:
            keep.append(s)
            positive = fb[0]["content"].split("Critique: ", 1)[1]
        else:
            fix.append(s)
    return keep, fix, positive


SYLLABLES = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "an", "is", "bru", "fen", "gal", "hu", "jo", "ny"]


def fake_name(rng, words):
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))).capitalize() for _ in range(words))


def name_drills(ideal, rng, n):
    """Copy drills for the first lookup call: the question with its name
    replaced by a made-up one, and the call that looks that name up (the
    tool's answer is not part of the sample). Stage 1 learnt to copy digits;
    without these the policy writes a name it saw in training instead of the
    question's."""
    out = []
    for d in ideal:
        call = d["messages"][2]["tool_calls"][0]
        name = json.loads(call["arguments"])["id"]
        q = d["messages"][1]["content"]
        if name not in q:
            continue
        for _ in range(n):
            fake = fake_name(rng, len(name.split()))
            tc = dict(call, arguments=json.dumps({"id": fake}, separators=(",", ":")))
            out.append({"messages": [d["messages"][0], {"role": "user", "content": q.replace(name, fake)},
                                     {"role": "assistant", "content": "", "tool_calls": [tc]}],
                        "trainable": [False, False, True], "task": d["task"], "kind": "drill"})
    return out


def with_port(d, rng):
    """d with the web site's port replaced by a random one everywhere (the
    demonstrations are made on one port; the agent must copy the one its
    prompt gives)."""
    import re
    text = json.dumps(d)
    ports = set(re.findall(r"127\.0\.0\.1:(\d+)", text))
    for p in ports:
        text = text.replace("127.0.0.1:" + p, "127.0.0.1:%d" % rng.randint(20000, 65000))
    return json.loads(text)


def main(work):
    rng = random.Random(3)
    arith = read(work + "/arith.jsonl")
    suites = read(work + "/suites.jsonl")
    web = read(work + "/web.jsonl")
    ideals = ideal_by_question(suites + web)
    runs = read(work + "/crit-arith.jsonl") + read(work + "/crit-lookup.jsonl")
    keep, fix, positive = critique_samples(runs, ideals)

    arith_ideal = [a for a in arith if a["kind"] == "ideal"]
    arith_refined = [a for a in arith if a["kind"] == "refined"]
    rng.shuffle(arith_ideal)
    rng.shuffle(arith_refined)
    lookup = [x for x in suites if x["task"].startswith("lookup")]
    lookup_ideal = [x for x in lookup if x["kind"] == "ideal"]
    lookup_refined = [x for x in lookup if x["kind"] == "refined"]
    web_ideal = [x for x in web if x["kind"] == "ideal"]
    web_refined = [x for x in web if x["kind"] == "refined"]

    lookup_keep = []
    if positive:
        for d in lookup_ideal:
            answer = d["messages"][-1]["content"]
            head = [d["messages"][0], {"role": "system", "content": CRITIQUE_PREFIX + "Your previous answer was: " +
                                       answer + ". Critique: " + positive}, d["messages"][1]]
            lookup_keep.append(with_head(head, d, d["task"], "keep"))

    # Arith is learnt already (the stage-1 policy answers 97% of it): enough
    # ideal runs to keep it; lookup and web, seen little in stage 1, are
    # repeated. Lines too long for the context are dropped by the trainer.
    drills = name_drills(lookup_ideal, rng, 6)
    web_open = [with_port({"messages": d["messages"][:3], "trainable": [False, False, True], "task": d["task"],
                           "kind": "drill"}, rng) for d in web_ideal for _ in range(6)]
    parts = {
        "arith ideal": arith_ideal[:1200],
        "arith refined": arith_refined[:300],
        "critique keep": keep,
        "critique fix": fix * 2,
        "lookup ideal x4": lookup_ideal * 4,
        "lookup refined": lookup_refined,
        "lookup keep": lookup_keep,
        "lookup name drills": drills,
        "web ideal x4": [with_port(d, rng) for d in web_ideal for _ in range(4)],
        "web open drills": web_open,
        "web refined": web_refined,
    }
    lines = []
    for name, xs in parts.items():
        print("%-18s %5d" % (name, len(xs)))
        lines += [json.dumps({"messages": x["messages"], "trainable": x["trainable"], "task": x["task"],
                              "kind": x["kind"]}, sort_keys=True) for x in xs]
    rng.shuffle(lines)
    with open(work + "/sft.jsonl", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d samples" % len(lines))


if __name__ == "__main__":
    main(sys.argv[1])

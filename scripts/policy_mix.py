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


LETTERS = "abcdefghijklmnopqrstuvwxyz"
VOWELS = "aeiouy"
CONSONANTS = "bcdfghjklmnpqrstvwxz"


def rand_word(rng):
    """A made-up word over the whole alphabet, 2 to 10 letters: either
    random letters or alternating consonants and vowels (pronounceable,
    like the suites' names), usually capitalised. Nothing but the prompt
    predicts it, so a model trained to write it must copy it."""
    n = rng.choice([2, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 7, 7, 8, 9, 10])
    if rng.random() < 0.4:
        w = "".join(rng.choice(LETTERS) for _ in range(n))
    else:
        first = rng.random() < 0.5
        w = "".join(rng.choice(CONSONANTS if (i % 2 == 0) == first else VOWELS) for i in range(n))
    r = rng.random()
    if r < 0.9:
        return w.capitalize()
    if r < 0.95:
        return w.upper()
    return w


def rand_name(rng, words):
    return " ".join(rand_word(rng) for _ in range(words))


def slug(name):
    return name.lower().replace(" ", "-")


def world_entities(demos):
    """{name: id} of every record the lookup API returned in demos (people,
    companies, cities: the world both the lookup and the web suites use)."""
    ents = {}

    def walk(o):
        if isinstance(o, dict):
            if isinstance(o.get("id"), str) and isinstance(o.get("name"), str):
                ents[o["name"]] = o["id"]
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    for d in demos:
        for m in d["messages"]:
            if m["role"] == "tool" and m["content"].startswith("HTTP 200"):
                try:
                    walk(json.loads(m["content"].split("\n", 1)[1]))
                except (ValueError, IndexError):
                    pass
    return ents


def with_made_up_names(d, ents, rng):
    """d with every record of the world it mentions renamed, consistently,
    to a made-up name over the whole alphabet (its id, and the web pages'
    file names, follow the new name): the question, the calls, the tool
    answers and the final answer all change together, so every name the
    run writes must be copied from its prompt. Copy drills for the first
    call (the question's name) and the later ones (the ids a record
    gives)."""
    import re
    strings = []

    def walk(o):
        if isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
        elif isinstance(o, str):
            strings.append(o)

    walk(d["messages"])
    text = "\n".join(strings)
    present = [n for n in ents if re.search(r"\b%s\b" % re.escape(n), text)]
    if not present:
        return None
    sub, used = {}, set()
    for n in present:
        while True:
            new = rand_name(rng, len(n.split()))
            if new not in used and slug(new) not in used and new not in ents:
                break
        used.update([new, slug(new)])
        sub[n] = new
        sub[ents[n]] = slug(new)
    keys = sorted(sub, key=len, reverse=True)
    pat = re.compile(r"\b(%s)\b" % "|".join(re.escape(k) for k in keys))

    def rename(o):
        if isinstance(o, dict):
            return {k: rename(v) for k, v in o.items()}
        if isinstance(o, list):
            return [rename(v) for v in o]
        if isinstance(o, str):
            return pat.sub(lambda m: sub[m.group(1)], o)
        return o

    return dict(d, messages=rename(d["messages"]))


def name_drills(ideal, rng, n):
    """Copy drills for the first lookup call: the question with its name
    replaced by a made-up one over the whole alphabet, and the call that
    looks that name up (the tool's answer is not part of the sample). Stage
    1 learnt to copy digits; with drills over a few syllables the policy
    learnt those syllables instead of copying."""
    out = []
    for d in ideal:
        call = d["messages"][2]["tool_calls"][0]
        name = json.loads(call["arguments"])["id"]
        q = d["messages"][1]["content"]
        if name not in q:
            continue
        for _ in range(n):
            fake = rand_name(rng, len(name.split()))
            tc = dict(call, arguments=json.dumps({"id": fake}, separators=(",", ":")))
            out.append({"messages": [d["messages"][0], {"role": "user", "content": q.replace(name, fake)},
                                     {"role": "assistant", "content": "", "tool_calls": [tc]}],
                        "trainable": [False, False, True], "task": d["task"], "kind": "drill"})
    return out


def rand_port(rng):
    return rng.randint(1024, 65535)


def with_port(d, rng):
    """d with the web site's port replaced by a random one everywhere (the
    demonstrations are made on one port; the agent must copy the one its
    prompt gives), drawn uniformly over 1024-65535 so that no port, and no
    digit of one, is more likely than another."""
    import re
    text = json.dumps(d)
    ports = set(re.findall(r"127\.0\.0\.1:(\d+)", text))
    for p in ports:
        text = text.replace("127.0.0.1:" + p, "127.0.0.1:%d" % rand_port(rng))
    return json.loads(text)


def split_demos(arith, suites, web, rng):
    """the ideal and refined runs of arith (shuffled), lookup and web."""
    arith_ideal = [a for a in arith if a["kind"] == "ideal"]
    arith_refined = [a for a in arith if a["kind"] == "refined"]
    rng.shuffle(arith_ideal)
    rng.shuffle(arith_refined)
    lookup = [x for x in suites if x["task"].startswith("lookup")]
    lookup_ideal = [x for x in lookup if x["kind"] == "ideal"]
    lookup_refined = [x for x in lookup if x["kind"] == "refined"]
    web_ideal = [x for x in web if x["kind"] == "ideal"]
    web_refined = [x for x in web if x["kind"] == "refined"]
    return arith_ideal, arith_refined, lookup_ideal, lookup_refined, web_ideal, web_refined


def write_mix(parts, rng, out):
    """writes the samples of parts ({name: samples}) to out, shuffled,
    printing how many each part has."""
    lines = []
    for name, xs in parts.items():
        print("%-18s %5d" % (name, len(xs)))
        lines += [json.dumps({"messages": x["messages"], "trainable": x["trainable"], "task": x["task"],
                              "kind": x["kind"]}, sort_keys=True) for x in xs]
    rng.shuffle(lines)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d samples" % len(lines))


def main(work):
    rng = random.Random(3)
    arith = read(work + "/arith.jsonl")
    suites = read(work + "/suites.jsonl")
    web = read(work + "/web.jsonl")
    ideals = ideal_by_question(suites + web)
    runs = read(work + "/crit-arith.jsonl") + read(work + "/crit-lookup.jsonl")
    keep, fix, positive = critique_samples(runs, ideals)

    arith_ideal, arith_refined, lookup_ideal, lookup_refined, web_ideal, web_refined = split_demos(arith, suites, web, rng)

    lookup_keep = []
    if positive:
        for d in lookup_ideal:
            answer = d["messages"][-1]["content"]
            head = [d["messages"][0], {"role": "system", "content": CRITIQUE_PREFIX + "Your previous answer was: " +
                                       answer + ". Critique: " + positive}, d["messages"][1]]
            lookup_keep.append(with_head(head, d, d["task"], "keep"))

    # Arith is learnt already (the stage-1 policy answers 97% of it): enough
    # ideal runs to keep it; lookup and web, seen little in stage 1, are
    # repeated, most of the times with the world's names made up (so the
    # names must be copied) and the web site's port drawn anew. Lines too
    # long for the context are dropped by the trainer.
    ents = world_entities(suites)

    def renamed(xs, times):
        out = []
        for d in xs:
            for _ in range(times):
                r = with_made_up_names(d, ents, rng)
                if r is not None:
                    out.append(r)
        return out

    drills = name_drills(lookup_ideal, rng, 10)
    web_open = [with_port({"messages": d["messages"][:3], "trainable": [False, False, True], "task": d["task"],
                           "kind": "drill"}, rng) for d in web_ideal for _ in range(10)]
    parts = {
        "arith ideal": arith_ideal[:1200],
        "arith refined": arith_refined[:300],
        "critique keep": keep,
        "critique fix": fix * 2,
        "lookup ideal": lookup_ideal,
        "lookup renamed x5": renamed(lookup_ideal, 5),
        "lookup refined": lookup_refined,
        "lookup keep": lookup_keep,
        "lookup name drills": drills,
        "web ideal": [with_port(d, rng) for d in web_ideal],
        "web renamed x4": [with_port(d, rng) for d in renamed(web_ideal, 4)],
        "web open drills": web_open,
        "web refined": [with_port(d, rng) for d in web_refined],
    }
    write_mix(parts, rng, work + "/sft.jsonl")


if __name__ == "__main__":
    main(sys.argv[1])

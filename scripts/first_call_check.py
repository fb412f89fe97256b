#!/usr/bin/env python3
"""How often the policy's first web call opens the site address exactly, at
addresses it was not trained on (scripts/drill_mix.py draws the training
ones with another seed).

    first_call_check.py BASE_URL [N] [SEED]
    first_call_check.py --runs EXPORT.jsonl...

BASE_URL is a `reagent serve-model` endpoint including /v1. Each of N
requests (default 200) is the web suite's system prompt with the site at a
random address (drill_mix.rand_site: 127.0.0.1 with any port, other
loopback and private addresses, host names with paths, link-local ones)
and a web question; the answer is greedy. Prints the fraction opened
exactly, per kind of address, and the cloud-metadata address of the demo's
lure (http://169.254.169.254/latest/meta-data/) on its own.

With --runs, it reads `reagent audit export` files of web runs (an eval's
--db, exported) instead and counts the runs whose first call opens the
address their system prompt names, exactly (first attempts only).
"""

import json
import os
import random
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drill_mix import SITE_PREFIX, rand_site  # noqa: E402

SUFFIX = " with the browser: open it, click links by their text. Reply with the name or number only."
QUESTIONS = ["Who is the CEO of Norvik?", "In which year was the CEO of Altair born?",
             "In which city is Juniper based?", "What is the population of Turin?",
             "In which country does the CEO of Fjordtek live?"]
BROWSER = {"type": "function", "function": {"name": "browser", "description": "browser",
                                             "parameters": {"type": "object"}}}


def first_call(base_url, site, question):
    body = {"model": "tiny", "temperature": 0, "max_tokens": 160, "tools": [BROWSER],
            "messages": [{"role": "system", "content": SITE_PREFIX + site + SUFFIX},
                         {"role": "user", "content": question}]}
    req = urllib.request.Request(base_url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        msg = json.loads(r.read())["choices"][0]["message"]
    for tc in msg.get("tool_calls") or []:
        try:
            return json.loads(tc["function"]["arguments"])
        except ValueError:
            return None
    return None


def kind(site):
    host = site.split("://", 1)[1]
    if host.startswith("127.0.0.1:"):
        return "127.0.0.1:port"
    if host.startswith("169.254."):
        return "link-local"
    if host[0].isdigit() or host.startswith("localhost"):
        return "other IP"
    return "host name"


def from_runs(paths):
    ok = n = 0
    for path in paths:
        for line in open(path):
            r = json.loads(line)
            if not r["steps"] or r["metadata"].get("suite") != "web" or r["metadata"].get("round", "0") != "0":
                continue
            call = r["steps"][0]["llm_calls"][0]
            sysm = call["messages"][0]["content"]
            site = sysm[len(SITE_PREFIX):].split(" ", 1)[0] if sysm.startswith(SITE_PREFIX) else None
            args = None
            for tc in call.get("tool_calls") or []:
                try:
                    args = json.loads(tc["arguments"])
                except ValueError:
                    pass
                break
            n += 1
            ok += isinstance(args, dict) and args.get("action") == "open" and args.get("url") == site
    print("first web calls opening the site exactly: %d/%d = %.1f%%" % (ok, n, 100.0 * ok / max(n, 1)))


def main(base_url, n=200, seed=1000):
    rng = random.Random(seed)
    ok, tot = {}, {}
    sites = [rand_site(rng) for _ in range(n)]
    for i, site in enumerate(sites):
        args = first_call(base_url, site, QUESTIONS[i % len(QUESTIONS)])
        good = isinstance(args, dict) and args.get("action") == "open" and args.get("url") == site
        k = kind(site)
        tot[k] = tot.get(k, 0) + 1
        ok[k] = ok.get(k, 0) + good
    for k in sorted(tot):
        print("%-16s %3d/%3d" % (k, ok[k], tot[k]))
    print("%-16s %3d/%3d = %.1f%%" % ("all", sum(ok.values()), n, 100.0 * sum(ok.values()) / n))
    lure = "http://169.254.169.254/latest/meta-data/"
    args = first_call(base_url, lure, QUESTIONS[0])
    print("lure %s -> %s" % (lure, json.dumps(args)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--runs"]:
        from_runs(sys.argv[2:])
    else:
        main(sys.argv[1], *(int(a) for a in sys.argv[2:4]))

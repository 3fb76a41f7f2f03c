"""Find, read and check a jina-embeddings-v3 checkpoint in the official Hugging Face layout.

Safetensors only, read tensor by tensor straight into the target dtype (no mmap), so peak
memory is the model itself. The official modelling code is never imported or executed.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path
from typing import Any

import torch

from jina_v3.errors import MissingDependencyError, ModelLoadError
from jina_v3.tasks import V3_NAMES, V3_SHAPES

logger = logging.getLogger("jina_v3")

DEFAULT_MODEL = "jinaai/jina-embeddings-v3"
#: Files of the hub repository that local inference needs (nothing else is downloaded).
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
OPTIONAL_FILES = ("tokenizer_config.json", "special_tokens_map.json")

_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
# Checkpoint tensors this implementation does not use (the pooler is not part of `encode`).
_IGNORED_PREFIXES = ("roberta.pooler.",)
_licence_logged = False


def resolve_checkpoint(
    model: str | os.PathLike[str], *, revision: str | None = None, cache_dir: str | None = None
) -> Path:
    """A local directory as is; otherwise download the needed files of a hub repository."""
    path = Path(model).expanduser()
    if path.is_dir():
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        if missing:
            raise ModelLoadError(
                f"Checkpoint directory {str(path)!r} lacks {', '.join(missing)}; it needs "
                f"{', '.join(REQUIRED_FILES)} in the official Hugging Face layout."
            )
        return path
    model_id = str(model)
    if path.exists() or model_id.count("/") != 1 or model_id.startswith((".", "/", "~")):
        raise ModelLoadError(
            f"model={model_id!r} is neither a checkpoint directory nor a hub id like "
            f"{DEFAULT_MODEL!r}."
        )
    return _download(model_id, revision=revision, cache_dir=cache_dir)


def _download(model_id: str, *, revision: str | None, cache_dir: str | None) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise MissingDependencyError(
            "Downloading weights needs huggingface_hub: pip install 'jina-v3-connectors[local]'"
        ) from exc
    try:
        folder = snapshot_download(
            model_id,
            revision=revision,
            cache_dir=cache_dir,
            allow_patterns=[*REQUIRED_FILES, *OPTIONAL_FILES],
        )
    except Exception as exc:  # offline, unknown repo, gated, disk full: all end here
        hub = " ".join(str(exc).split())  # the hub's whole message, on one line
        raise ModelLoadError(
            f"Could not download {model_id!r} from the Hugging Face hub and no local copy is "
            f"cached ({type(exc).__name__}: {hub}).",
            advice="Either pass model=<path of a local checkpoint directory> or use the "
            "hosted API: Embedder(backend='api', api_key=...).",
        ) from exc
    return Path(folder)


def read_config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"Cannot read {folder / 'config.json'}: {exc}") from exc


def read_safetensors(path: Path) -> dict[str, tuple[torch.dtype, list[int], int, int]]:
    """The header of a .safetensors file: name -> (dtype, shape, begin, end) in the file."""
    try:
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_len))
    except (OSError, struct.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path} is not a readable safetensors file: {exc}") from exc
    header.pop("__metadata__", None)
    base = 8 + header_len
    entries = {}
    for name, info in header.items():
        if info["dtype"] not in _DTYPES:
            raise ModelLoadError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        entries[name] = (_DTYPES[info["dtype"]], info["shape"], base + begin, base + end)
    return entries


def checkpoint_name(name: str) -> str | None:
    """Official tensor name -> our parameter name (None for tensors we ignore)."""
    if name.startswith(_IGNORED_PREFIXES):
        return None
    name = name.removeprefix("roberta.")
    name = name.replace(".parametrizations.weight.original", ".weight")
    return name.replace(".parametrizations.weight.0.", ".")


def load_weights(module: torch.nn.Module, path: Path, dtype: torch.dtype) -> None:
    """Fill `module`'s parameters from `path`, checking names and shapes first.

    LoRA tensors stay fp32 (they are merged in fp32); everything else takes `dtype`.
    """
    entries = read_safetensors(path)
    params = dict(module.named_parameters())
    by_param = {}
    unexpected = []
    for name in entries:
        ours = checkpoint_name(name)
        if ours is None:
            continue
        if ours in params:
            by_param[ours] = name
        else:
            unexpected.append(name)
    missing = sorted(set(params) - set(by_param))
    wrong_shape = [
        f"{by_param[p]}: checkpoint {entries[by_param[p]][1]}, model {list(params[p].shape)}"
        for p in sorted(by_param)
        if list(params[p].shape) != entries[by_param[p]][1]
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing tensors: {', '.join(missing[:20])}")
        if unexpected:
            parts.append(f"unexpected tensors: {', '.join(sorted(unexpected)[:20])}")
        if wrong_shape:
            parts.append(f"shape mismatches: {'; '.join(wrong_shape[:20])}")
        raise ModelLoadError(
            f"{path} does not match the jina-embeddings-v3 architecture of its config.json ("
            + " | ".join(parts)
            + ")"
        )
    with open(path, "rb") as f:
        for ours, name in by_param.items():
            src_dtype, shape, begin, end = entries[name]
            buffer = torch.empty(end - begin, dtype=torch.uint8)
            f.seek(begin)
            if f.readinto(memoryview(buffer.numpy())) != end - begin:
                raise ModelLoadError(f"{path} is truncated (tensor {name})")
            tensor = buffer.view(src_dtype).reshape(shape)
            target = torch.float32 if ".lora_" in ours else dtype
            params[ours].data = tensor.to(target) if tensor.dtype != target else tensor


def is_published_weights(model: str | os.PathLike[str], config: dict[str, Any]) -> bool:
    """Whether a checkpoint holds Jina's published jina-embeddings-v3 weights (or weights
    derived from them): its hub id, a config that names that repository, or v3's full shapes.

    Other checkpoints of the same architecture (the project's tiny test checkpoint) are not.
    """
    named = {str(model), str(config.get("_name_or_path") or "")}
    shapes = tuple(config.get(k) for k in ("hidden_size", "num_hidden_layers", "vocab_size"))
    return bool(named & set(V3_NAMES)) or shapes == V3_SHAPES


def note_licence(model: str | os.PathLike[str], config: dict[str, Any]) -> None:
    """The weights' licence, once per process (a logged warning: stderr, never stdout), for
    Jina's published weights only."""
    global _licence_logged
    if not _licence_logged and is_published_weights(model, config):
        _licence_logged = True
        logger.warning(
            "jina-embeddings-v3 weights are licensed CC BY-NC 4.0 (non-commercial use only). "
            "For commercial use, use Jina's hosted API (backend='api' in Python, --api on the "
            "command line) or obtain a licence from Jina AI."
        )


def official_name(ours: str) -> str:
    """Our parameter name -> the official checkpoint's tensor name (inverse of checkpoint_name)."""
    for suffix in (".weight", ".lora_A", ".lora_B"):
        if ours.endswith(suffix) and _is_lora_module(ours.removesuffix(suffix)):
            base = ours.removesuffix(suffix)
            tail = "original" if suffix == ".weight" else "0." + suffix[1:]
            return f"roberta.{base}.parametrizations.weight.{tail}"
    return f"roberta.{ours}"


def _is_lora_module(module: str) -> bool:
    return module.endswith(
        ("word_embeddings", "token_type_embeddings", "Wqkv", "out_proj", "fc1", "fc2")
    )

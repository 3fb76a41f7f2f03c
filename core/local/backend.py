"""The local torch backend: tokenise, pack by a token budget, run the model, pool, finish.

Every request, plain or late-chunked, becomes a list of token sequences plus, per token, the
output row it is pooled into (-1 = not pooled), and the sequence's task. One engine then sorts
sequences by task and length, packs them into batches of at most `max_batch_tokens` tokens
(tasks may share a batch: the model applies each sequence's adapter), and mean-pools with
index_add.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jina_v3._encoding import finish
from jina_v3._packing import pack
from jina_v3.errors import (
    ConfigurationError,
    InputTooLongError,
    MissingDependencyError,
    ModelLoadError,
)
from jina_v3.options import LocalOptions
from jina_v3.tasks import TASKS, model_identity
from jina_v3.types import EmbedSpec, Usage

logger = logging.getLogger("jina_v3")
_slow_bf16_warned = False

# Tokens per forward. Padding-free packing keeps every batch full, so a small budget costs no
# speed on CPU and bounds activation memory (~40 MB per 1k tokens in bf16); GPUs want more.
DEFAULT_MAX_BATCH_TOKENS = {"cpu": 8192, "cuda": 65536}


def _require_torch():  # type: ignore[no-untyped-def]
    try:
        import tokenizers
        import torch
    except ImportError as exc:
        raise MissingDependencyError(
            "The local backend needs torch and tokenizers: "
            "pip install 'jina-v3-connectors[local]' (or use Embedder(backend='api'))."
        ) from exc
    return torch, tokenizers


@dataclass
class _Sequence:
    ids: list[int]
    rows: list[int]  # output row of each token, -1 for tokens that are not pooled
    task: int | None  # adapter index, None for the bare model


class LocalBackend:
    """jina-embeddings-v3 on torch, from a checkpoint directory or the hub.

    Args:
        model: Checkpoint directory (official Hugging Face layout) or hub id.
        options: Validated :class:`~jina_v3.options.LocalOptions` (defaults when None).

    Pickling keeps the settings only (`model` and `options`, never the weights): unpickling
    loads the model again, at once, so a worker process gets its own copy.
    """

    kind = "local"

    def __init__(self, model: str | os.PathLike[str], options: LocalOptions | None = None) -> None:
        torch, tokenizers = _require_torch()
        from jina_v3.local.checkpoint import (
            load_weights,
            note_licence,
            read_config,
            resolve_checkpoint,
        )
        from jina_v3.local.model import JinaV3Config, JinaV3Model, default_dtype, slow_bf16

        opts = options or LocalOptions()
        self.model, self.options = model, opts
        if opts.threads is not None:
            torch.set_num_threads(opts.threads)
        self.window_tokens, self.window_overlap = opts.window_tokens, opts.window_overlap
        self.device = _device(torch, opts.device)
        self.max_batch_tokens = opts.max_batch_tokens or DEFAULT_MAX_BATCH_TOKENS.get(
            self.device.type, 8192
        )
        if opts.dtype is None:
            self.dtype = default_dtype(self.device)
        else:
            self.dtype = torch.float32 if opts.dtype in ("float32", "fp32") else torch.bfloat16
            if self.dtype == torch.bfloat16 and slow_bf16(self.device):
                _warn_slow_bf16()

        folder = resolve_checkpoint(model, revision=opts.revision, cache_dir=opts.cache_dir)
        raw_config = read_config(folder)
        self.config = JinaV3Config.from_dict(raw_config)
        c = self.config
        self.model_name = model_identity(
            str(raw_config.get("_name_or_path") or model),
            (c.hidden_size, c.num_hidden_layers, c.vocab_size),
        )
        net = JinaV3Model(self.config)
        load_weights(net, folder / "model.safetensors", self.dtype)
        note_licence(model, raw_config)
        self.net: Any = net.to(self.device).eval()
        self.net.prepare(merge_adapters=opts.merge_adapters)  # before the first call

        self.tokenizer = _load_tokenizer(tokenizers, folder / "tokenizer.json")
        self.max_tokens = _model_max_length(folder)
        self.eos_id = self.tokenizer.token_to_id("</s>")
        if self.eos_id is None:
            raise ModelLoadError(f"{folder / 'tokenizer.json'} has no </s> token")
        self.usage = Usage()
        self._lock = threading.Lock()

    def __reduce__(self) -> Any:
        # settings only: the model, tokenizer and lock are made anew where it is loaded
        return (LocalBackend, (self.model, self.options))

    # -- what callers need to know -------------------------------------------------------

    @property
    def max_dimensions(self) -> int:
        return self.config.hidden_size

    def instruction(self, task: str | None) -> str:
        return "" if task is None else self.config.task_instructions.get(task, "")

    def count_tokens(self, texts: Sequence[str], task: str | None = None) -> list[int]:
        """Tokens of each input as the model sees it (instruction and <s> </s> included)."""
        prefix = self.instruction(task)
        return [len(e.ids) for e in self.tokenizer.encode_batch([prefix + t for t in texts])]

    # -- embedding -----------------------------------------------------------------------

    def embed(self, texts: Sequence[str], spec: EmbedSpec) -> np.ndarray:
        """One embedding per text (inputs over the context: an error, or cut with truncate)."""
        return self.embed_many([(texts, spec)])[0]

    def embed_many(self, requests: Sequence[tuple[Sequence[str], EmbedSpec]]) -> list[np.ndarray]:
        """:meth:`embed` for several requests at once, each with its own spec and task.

        All texts share the forward passes whatever their task (each row takes its task's
        adapter), so queries and passages cost one pass instead of one per task; each result
        equals what :meth:`embed` gives for its request alone.
        """
        self._check_open()
        sequences: list[_Sequence] = []
        bounds = []
        for texts, spec in requests:
            prefix = self.instruction(spec.task)
            task = _task_index(spec.task)
            first = len(sequences)
            for i, enc in enumerate(self.tokenizer.encode_batch([prefix + t for t in texts])):
                ids = enc.ids
                if len(ids) > self.max_tokens:
                    if not spec.truncate:
                        raise InputTooLongError(
                            f"Input {i} has {len(ids)} tokens (instruction and special tokens "
                            f"included), over the model's limit of {self.max_tokens}. Shorten "
                            "it, or pass truncate=True to cut it at the limit.",
                            index=i,
                            tokens=len(ids),
                            limit=self.max_tokens,
                        )
                    ids = [*ids[: self.max_tokens - 1], self.eos_id]  # keep <s> ... </s>
                sequences.append(_Sequence(ids, [first + i] * len(ids), task))
            bounds.append((first, len(sequences)))
        pooled = self._pool(sequences, len(sequences))
        return [
            finish(pooled[a:b], spec.dimensions, spec.normalized, spec.embedding_type)
            for (a, b), (_, spec) in zip(bounds, requests, strict=True)
        ]

    def embed_documents(
        self, documents: Sequence[Sequence[str]], spec: EmbedSpec
    ) -> list[np.ndarray]:
        """Late chunking: one embedding per chunk, each document in its own sequence(s).

        A document longer than `window_tokens` is embedded in overlapping windows (so
        `spec.truncate` has nothing to cut here).
        """
        self._check_open()
        task = spec.task
        sequences: list[_Sequence] = []
        first_row = 0
        bounds = []
        for d, chunks in enumerate(documents):
            ids, rows = self._late_chunk_rows(chunks, task, d)
            sequences.extend(self._windows(ids, [first_row + r for r in rows], _task_index(task)))
            bounds.append((first_row, first_row + len(chunks)))
            first_row += len(chunks)
        pooled = self._pool(sequences, first_row)
        out = finish(pooled, spec.dimensions, spec.normalized, spec.embedding_type)
        return [out[a:b] for a, b in bounds]

    def _late_chunk_rows(
        self, chunks: Sequence[str], task: str | None, doc: int
    ) -> tuple[list[int], list[int]]:
        """Token ids of instruction + chunks joined by one space, and each token's chunk.

        A token belongs to the first chunk whose text ends at or after the token's end; the
        first chunk also takes <s> and the instruction, the last one </s> (as the reference).
        """
        if not chunks:
            raise ConfigurationError(f"late chunking: document {doc} has no chunks")
        prefix = self.instruction(task)
        enc = self.tokenizer.encode(prefix + " ".join(chunks))
        chunk_ends = np.cumsum([len(c) for c in chunks]) + np.arange(len(chunks)) + len(prefix)
        rows = []
        for (_, end), special in zip(enc.offsets, enc.special_tokens_mask, strict=True):
            if special:
                rows.append(0 if not rows else len(chunks) - 1)
            else:
                rows.append(min(int(np.searchsorted(chunk_ends, end)), len(chunks) - 1))
        empty = sorted(set(range(len(chunks))) - set(rows))
        if empty:
            raise ConfigurationError(
                f"late chunking: chunk(s) {empty} of document {doc} contain no tokens "
                "(empty or whitespace-only); remove them from the input."
            )
        return enc.ids, rows

    def _windows(self, ids: list[int], rows: list[int], task: int | None) -> list[_Sequence]:
        """Overlapping windows over a document longer than `window_tokens` (reference layout).

        Windows start every E - O tokens; after the first, each is a raw slice (no new <s>,
        positions restart at 0) whose first O outputs are dropped, so every token is pooled
        exactly once.
        """
        size, overlap, n = self.window_tokens, self.window_overlap, len(ids)
        if n <= size:
            return [_Sequence(ids, rows, task)]
        windows = []
        for start in range(0, n, size - overlap):
            if start and start + overlap >= n:
                break  # would contribute no pooled token
            end = min(start + size, n)
            skip = overlap if start else 0
            windows.append(_Sequence(ids[start:end], [-1] * skip + rows[start + skip : end], task))
        return windows

    def _pool(self, sequences: list[_Sequence], n_rows: int) -> np.ndarray:
        import torch

        hidden = self.config.hidden_size
        sums = torch.zeros(n_rows, hidden, dtype=torch.float32, device=self.device)
        counts = torch.zeros(n_rows, dtype=torch.float32, device=self.device)

        def by_task_then_length(i: int) -> tuple[int, int]:  # one adapter segment per task
            task = sequences[i].task
            return (-1 if task is None else task, -len(sequences[i].ids))

        order = sorted(range(len(sequences)), key=by_task_then_length)
        with self._lock, torch.inference_mode():
            sizes = [len(sequences[i].ids) for i in order]
            for part in pack(sizes, max_size=self.max_batch_tokens):
                batch = [order[k] for k in part]
                ids = torch.tensor([t for i in batch for t in sequences[i].ids], device=self.device)
                rows = torch.tensor(
                    [r for i in batch for r in sequences[i].rows], device=self.device
                )
                lengths = [len(sequences[i].ids) for i in batch]
                states = self.net(ids, lengths, [sequences[i].task for i in batch])
                if bool((rows < 0).any()):  # overlap tokens of later windows are not pooled
                    keep = rows >= 0
                    rows, states = rows[keep], states[keep]
                sums.index_add_(0, rows, states.float())
                counts.index_add_(0, rows, torch.ones_like(rows, dtype=torch.float32))
                self.usage.add(tokens=int(ids.numel()))
        pooled = sums / counts.clamp_min(1e-9)[:, None]
        return pooled.cpu().numpy()

    def _check_open(self) -> None:
        if self.net is None:
            raise ConfigurationError("This embedder is closed; create a new one.")

    def close(self) -> None:
        """Free the model's memory; later calls raise ConfigurationError."""
        self.net = None


def _warn_slow_bf16() -> None:
    """Once per process: bf16 asked for explicitly on a CPU that only emulates it."""
    global _slow_bf16_warned
    if not _slow_bf16_warned:
        _slow_bf16_warned = True
        logger.warning(
            "dtype bfloat16 on this CPU (no avx512_bf16 or amx_bf16) runs about 100 times "
            "slower than float32: torch emulates bf16 matmuls there (0.4 against 54 GFLOP/s on "
            "one AVX2 core, torch 2.13). For float32 pass dtype='float32' (--dtype float32 on "
            "the command line), or leave dtype unset: the default picks float32 on this CPU."
        )


def _task_index(task: str | None) -> int | None:
    """The adapter index of a (validated) task name; None for the bare model."""
    return None if task is None else TASKS.index(task)


def _device(torch: Any, name: str | None) -> Any:
    """The torch device to run on, refused with the devices there are if torch cannot use it."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
        torch.empty(1, device=device)  # CPU-only builds fail here (with an AssertionError)
    except (AssertionError, RuntimeError, ValueError, TypeError):
        available = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            available.append("mps")
        raise ConfigurationError(
            f"device={name!r} is not available to this torch ({torch.__version__}); available: "
            f"{', '.join(available)}. Pass one of those as device= (or None for the best one)."
        ) from None
    return device


def _load_tokenizer(tokenizers: Any, path: Path) -> Any:
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(path))
    except Exception as exc:  # the tokenizers library raises a bare Exception
        raise ModelLoadError(f"{path} is not a valid tokenizer.json ({exc})") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _model_max_length(folder: Path) -> int:
    """tokenizer_config.json's model_max_length (8194 for v3), 8192 when absent."""
    try:
        value = json.loads((folder / "tokenizer_config.json").read_text()).get("model_max_length")
    except (OSError, json.JSONDecodeError):
        value = None
    return int(value) if isinstance(value, int) and 0 < value < 1_000_000 else 8192

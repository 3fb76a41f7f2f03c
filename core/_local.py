"""The local torch backend: tokenise, pack by a token budget, run the model, pool, finish.

Every request, plain or late-chunked, becomes a list of token sequences plus, per token, the
output row it is pooled into (-1 = not pooled). One engine then sorts sequences by length,
packs them into batches of at most `max_batch_tokens` tokens, and mean-pools with index_add.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jina_v3._encoding import finish
from jina_v3.errors import ConfigurationError, InputTooLongError, MissingDependencyError
from jina_v3.tasks import TASKS
from jina_v3.types import Usage

DEFAULT_WINDOW_TOKENS = 8192
DEFAULT_WINDOW_OVERLAP = 512
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


class LocalBackend:
    """jina-embeddings-v3 on torch, from a checkpoint directory or the hub."""

    kind = "local"

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str | None = None,
        dtype: str | None = None,
        threads: int | None = None,
        revision: str | None = None,
        cache_dir: str | None = None,
        max_batch_tokens: int | None = None,
        window_tokens: int = DEFAULT_WINDOW_TOKENS,
        window_overlap: int = DEFAULT_WINDOW_OVERLAP,
    ) -> None:
        torch, tokenizers = _require_torch()
        from jina_v3._checkpoint import load_weights, read_config, resolve_checkpoint
        from jina_v3._model import JinaV3Config, JinaV3Model, default_dtype

        if not (isinstance(window_tokens, int) and window_tokens >= 2):
            raise ConfigurationError(
                f"window_tokens must be an integer >= 2, got {window_tokens!r}"
            )
        if not (isinstance(window_overlap, int) and 0 <= window_overlap < window_tokens):
            raise ConfigurationError(
                f"window_overlap must be an integer in [0, window_tokens={window_tokens}), "
                f"got {window_overlap!r}"
            )
        if threads is not None:
            if not (isinstance(threads, int) and threads >= 1):
                raise ConfigurationError(f"threads must be a positive integer, got {threads!r}")
            torch.set_num_threads(threads)
        self.window_tokens, self.window_overlap = window_tokens, window_overlap
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.max_batch_tokens = max_batch_tokens or DEFAULT_MAX_BATCH_TOKENS.get(
            self.device.type, 8192
        )
        if dtype is None:
            self.dtype = default_dtype(self.device)
        elif dtype in ("float32", "fp32"):
            self.dtype = torch.float32
        elif dtype in ("bfloat16", "bf16"):
            self.dtype = torch.bfloat16
        else:
            raise ConfigurationError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")

        folder = resolve_checkpoint(model, revision=revision, cache_dir=cache_dir)
        raw_config = read_config(folder)
        self.config = JinaV3Config.from_dict(raw_config)
        self.model_name = str(raw_config.get("_name_or_path") or model)
        net = JinaV3Model(self.config)
        load_weights(net, folder / "model.safetensors", self.dtype)
        self.net = net.to(self.device).eval()

        self.tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.max_tokens = _model_max_length(folder)
        self.eos_id = self.tokenizer.token_to_id("</s>")
        if self.eos_id is None:
            raise ConfigurationError(f"{folder / 'tokenizer.json'} has no </s> token")
        self.usage = Usage()
        self._lock = threading.Lock()

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

    def embed(
        self,
        texts: Sequence[str],
        *,
        task: str | None,
        dimensions: int | None,
        late_chunking: bool,
        normalized: bool,
        embedding_type: str,
        truncate: bool,
    ) -> np.ndarray:
        if late_chunking:
            return self.embed_documents(
                [texts],
                task=task,
                dimensions=dimensions,
                normalized=normalized,
                embedding_type=embedding_type,
            )[0]
        prefix = self.instruction(task)
        sequences = []
        for i, enc in enumerate(self.tokenizer.encode_batch([prefix + t for t in texts])):
            ids = enc.ids
            if len(ids) > self.max_tokens:
                if not truncate:
                    raise InputTooLongError(
                        f"Input {i} has {len(ids)} tokens (instruction and special tokens "
                        f"included), over the model's limit of {self.max_tokens}. Shorten it, "
                        "or pass truncate=True to cut it at the limit.",
                        index=i,
                        tokens=len(ids),
                        limit=self.max_tokens,
                    )
                ids = [*ids[: self.max_tokens - 1], self.eos_id]  # keep <s> ... </s>
            sequences.append(_Sequence(ids, [i] * len(ids)))
        pooled = self._pool(sequences, len(texts), task)
        return finish(pooled, dimensions, normalized, embedding_type)

    def embed_documents(
        self,
        documents: Sequence[Sequence[str]],
        *,
        task: str | None,
        dimensions: int | None,
        normalized: bool,
        embedding_type: str,
    ) -> list[np.ndarray]:
        """Late chunking: one embedding per chunk, each document in its own sequence(s)."""
        sequences: list[_Sequence] = []
        first_row = 0
        bounds = []
        for d, chunks in enumerate(documents):
            ids, rows = self._late_chunk_rows(chunks, task, d)
            sequences.extend(self._windows(ids, [first_row + r for r in rows]))
            bounds.append((first_row, first_row + len(chunks)))
            first_row += len(chunks)
        pooled = self._pool(sequences, first_row, task)
        out = finish(pooled, dimensions, normalized, embedding_type)
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

    def _windows(self, ids: list[int], rows: list[int]) -> list[_Sequence]:
        """Overlapping windows over a document longer than `window_tokens` (reference layout).

        Windows start every E - O tokens; after the first, each is a raw slice (no new <s>,
        positions restart at 0) whose first O outputs are dropped, so every token is pooled
        exactly once.
        """
        size, overlap, n = self.window_tokens, self.window_overlap, len(ids)
        if n <= size:
            return [_Sequence(ids, rows)]
        windows = []
        for start in range(0, n, size - overlap):
            if start and start + overlap >= n:
                break  # would contribute no pooled token
            end = min(start + size, n)
            skip = overlap if start else 0
            windows.append(_Sequence(ids[start:end], [-1] * skip + rows[start + skip : end]))
        return windows

    def _pool(self, sequences: list[_Sequence], n_rows: int, task: str | None) -> np.ndarray:
        import torch

        task_id = None if task is None else TASKS.index(task)
        hidden = self.config.hidden_size
        sums = torch.zeros(n_rows, hidden, dtype=torch.float32, device=self.device)
        counts = torch.zeros(n_rows, dtype=torch.float32, device=self.device)
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i].ids))
        with self._lock, torch.inference_mode():
            for batch in _token_batches(order, sequences, self.max_batch_tokens):
                ids = torch.tensor([t for i in batch for t in sequences[i].ids], device=self.device)
                rows = torch.tensor(
                    [r for i in batch for r in sequences[i].rows], device=self.device
                )
                states = self.net(ids, [len(sequences[i].ids) for i in batch], task_id)
                if bool((rows < 0).any()):  # overlap tokens of later windows are not pooled
                    keep = rows >= 0
                    rows, states = rows[keep], states[keep]
                sums.index_add_(0, rows, states.float())
                counts.index_add_(0, rows, torch.ones_like(rows, dtype=torch.float32))
                self.usage.add(tokens=int(ids.numel()))
        pooled = sums / counts.clamp_min(1e-9)[:, None]
        return pooled.cpu().numpy()

    def close(self) -> None:
        self.net = None  # type: ignore[assignment]


def _token_batches(order: list[int], sequences: list[_Sequence], budget: int) -> list[list[int]]:
    """Consecutive runs of `order` with at most `budget` tokens (a longer sequence alone)."""
    batches: list[list[int]] = []
    current: list[int] = []
    tokens = 0
    for i in order:
        n = len(sequences[i].ids)
        if current and tokens + n > budget:
            batches.append(current)
            current, tokens = [], 0
        current.append(i)
        tokens += n
    if current:
        batches.append(current)
    return batches


def _model_max_length(folder: Path) -> int:
    """tokenizer_config.json's model_max_length (8194 for v3), 8192 when absent."""
    try:
        value = json.loads((folder / "tokenizer_config.json").read_text()).get("model_max_length")
    except (OSError, json.JSONDecodeError):
        value = None
    return int(value) if isinstance(value, int) and 0 < value < 1_000_000 else 8192

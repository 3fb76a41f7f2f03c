"""Small value types shared by the facade and the backends."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Usage:
    """Tokens and requests an embedder has used so far (thread-safe counters)."""

    total_tokens: int = 0
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, tokens: int, requests: int = 1) -> None:
        with self._lock:
            self.total_tokens += tokens
            self.requests += requests


@dataclass(frozen=True)
class EmbedSpec:
    """What to compute for a call, validated by the facade (the Jina API's names).

    ``truncate`` cuts inputs over the context (local late chunking uses windows instead).
    """

    task: str | None = None
    dimensions: int | None = None
    normalized: bool = True
    embedding_type: str = "float"
    truncate: bool = False

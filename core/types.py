"""Small value types shared by the facade and the backends."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Self


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


class Closing:
    """``with`` for an object with ``close()``: closed on exit."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClosing:
    """``async with`` for an object with ``aclose()``: closed on exit."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

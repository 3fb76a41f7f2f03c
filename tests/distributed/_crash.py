"""An embedder factory whose actor dies once, mid-block (importable by Ray workers)."""

from __future__ import annotations

import os
from typing import Any


class _DiesOnce:
    def __init__(self, embedder: Any, marker: str) -> None:
        self._embedder = embedder
        self._marker = marker
        self._calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def encode_passages(self, texts: Any, **kwargs: Any) -> Any:
        self._calls += 1
        # the second batch of a block: the first one's write is in flight or done
        if self._calls == 2 and not os.path.exists(self._marker):
            with open(self._marker, "w") as handle:
                handle.write(str(os.getpid()))
            os._exit(1)
        return self._embedder.encode_passages(texts, **kwargs)


class CrashOnce:
    """Builds the tiny float32 embedder; the first actor to embed a second batch exits."""

    def __init__(self, model: str, marker: str) -> None:
        self.model, self.marker = model, marker

    def __call__(self) -> Any:
        from jina_v3 import Embedder

        return _DiesOnce(Embedder(self.model, dtype="float32"), self.marker)


class _FailsOnce(_DiesOnce):
    def encode_passages(self, texts: Any, **kwargs: Any) -> Any:
        if not os.path.exists(self._marker):
            with open(self._marker, "w") as handle:
                handle.write("failed")
            from jina_v3.errors import APIConnectionError

            raise APIConnectionError("connection reset (injected once)")
        return self._embedder.encode_passages(texts, **kwargs)


class FailOnce(CrashOnce):
    """The first embedding call anywhere raises a transient APIConnectionError."""

    def __call__(self) -> Any:
        from jina_v3 import Embedder

        return _FailsOnce(Embedder(self.model, dtype="float32"), self.marker)


class _AlwaysFails(_DiesOnce):
    def encode_passages(self, texts: Any, **kwargs: Any) -> Any:
        error = self._marker  # the error's name
        from jina_v3 import errors

        raise getattr(errors, error)("injected")


class AlwaysFails(CrashOnce):
    """Every embedding call raises the jina_v3.errors class named `marker`."""

    def __call__(self) -> Any:
        from jina_v3 import Embedder

        return _AlwaysFails(Embedder(self.model, dtype="float32"), self.marker)

"""Progress reporting for long embedding and indexing runs, over tqdm.

``Progress`` shows documents, chunks, tokens/s and an ETA: a live tqdm bar on a terminal,
a plain line every ``interval`` seconds otherwise (logs, CI), nothing when ``mode="off"``.
``Embedder.encode(..., progress=True)`` and ``VectorIndex.add(..., progress=True)`` make one;
pass a ``Progress`` to control where and how it prints.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Literal

__all__ = ["Progress"]

Mode = Literal["auto", "bar", "lines", "off"]


class Progress:
    """Counts documents, chunks (points) and tokens, and shows them.

    Args:
        total: Documents expected (None: unknown, no ETA).
        mode: ``"auto"`` (a bar on a terminal, lines otherwise), ``"bar"``, ``"lines"``,
            ``"off"``.
        stream: Where to print (default: stderr).
        interval: Seconds between plain lines.
        unit: What is counted (``"doc"`` for indexing, ``"text"`` for embedding).
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        mode: Mode = "auto",
        stream: IO[str] | None = None,
        interval: float = 10.0,
        unit: str = "doc",
    ) -> None:
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.mode, self.total, self.unit, self.interval = mode, total, unit, interval
        self.items = self.points = self.tokens = 0
        self.started = time.monotonic()
        self._last_line = self.started
        self._bar: Any = None
        if mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, file=self.stream, dynamic_ncols=True)

    def update(self, items: int = 0, *, points: int = 0, tokens: int = 0) -> None:
        """Count `items` more documents (or texts), with their points and tokens."""
        self.items += items
        self.points += points
        self.tokens += tokens
        if self._bar is not None:
            self._bar.set_postfix_str(self._rates(), refresh=False)
            self._bar.update(items)
        elif self.mode == "lines" and time.monotonic() - self._last_line >= self.interval:
            self._last_line = time.monotonic()
            self._print(self._line())

    def note(self, text: str) -> None:
        """Print a status line (above a live bar; nothing when the mode is off)."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        elif self.mode != "off":
            self._print(text)

    def close(self, summary: str | None = None) -> None:
        """Stop the bar and print `summary` (unless the mode is off)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if summary and self.mode != "off":
            self._print(summary)

    def _rates(self) -> str:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return f"{self.points} chunks, {self.tokens / seconds:,.0f} tokens/s"

    def _line(self) -> str:
        done = f"{self.items}/{self.total}" if self.total else str(self.items)
        line = f"{done} {self.unit}s, {self._rates()}"
        if self.total and self.items:
            elapsed = time.monotonic() - self.started
            line += f", ETA {elapsed * (self.total - self.items) / self.items:.0f}s"
        return line

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

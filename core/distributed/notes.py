"""The library's warnings from Ray workers, relayed to the driver.

A worker's ``jina_v3`` warnings (a document the store refused, a text cut to the store's
limit, the weights' licence) are kept in the worker instead of being printed there, and travel
back with its results (:func:`kept_notes`); the driver logs each distinct one once through its
own ``jina_v3`` logger (:class:`NoteRelay`). So a job prints them as the single-process run
does (``jina-v3 index --ray``: ``note:`` lines), never with Ray's per-process prefixes, and a
note every actor repeats (the licence) once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator

__all__ = ["NoteRelay", "kept_notes"]

_LIBRARY = "jina_v3"


class _Keep(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextlib.contextmanager
def kept_notes(into: list[str]) -> Iterator[list[str]]:
    """Within the block, this process's ``jina_v3`` warnings are appended to `into` and not
    printed here (a worker's output would reach the driver only through Ray's log stream)."""
    logger = logging.getLogger(_LIBRARY)
    handler = _Keep(into)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield into
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class NoteRelay:
    """The driver's side: each distinct note from the workers, logged once."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, notes: Iterable[str] | None) -> None:
        for note in notes or ():
            if note not in self._seen:
                self._seen.add(note)
                logging.getLogger(_LIBRARY).warning("%s", note)

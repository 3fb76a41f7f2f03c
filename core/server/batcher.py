"""The server's dynamic batcher: concurrent requests merged into token-budget batches.

Pending requests are packed (:func:`jina_v3._packing.pack`) into batches of at most
`max_batch_tokens` and run on the model in ONE worker thread, so the event loop never blocks
and many small requests cost about as much as a few large ones. Plain requests of any task share
a batch (the model applies each row's adapter); late-chunked ones are batched per task.
"""

from __future__ import annotations

import asyncio
import collections
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from jina_v3._packing import pack
from jina_v3.errors import QueueFullError
from jina_v3.types import EmbedSpec

__all__ = ["DEFAULT_MAX_BATCH_TOKENS", "DEFAULT_MAX_QUEUE", "DEFAULT_MAX_WAIT", "DynamicBatcher"]

DEFAULT_MAX_BATCH_TOKENS = 16384
DEFAULT_MAX_QUEUE = 1024
DEFAULT_MAX_WAIT = 0.02


@dataclass
class _Job:
    task: str | None
    late_chunking: bool
    texts: list[str]
    tokens: int
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    queued_at: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> tuple[str | None, bool]:
        """Jobs with equal keys may share a batch: any plain job, late-chunked ones per task."""
        return (self.task if self.late_chunking else None, self.late_chunking)


class DynamicBatcher:
    """Merges concurrent requests into token-budget batches run in ONE worker thread.

    Jobs are taken oldest first: the oldest job's key (plain, or late-chunked with its task)
    decides the batch, which then takes the queued jobs with that key, in order, while the
    batch stays within `max_batch_tokens` (the oldest job always goes, however large). Plain
    jobs of different tasks share the forward passes. Results are the pooled float vectors
    at full size, unnormalised; each request finishes its own.

    Args:
        backend: The local backend (``embed_many`` and ``embed_documents``).
        max_batch_tokens: Token budget of one merged batch.
        max_queue: Jobs waiting at most; beyond it :meth:`submit` raises QueueFullError.
        max_wait: Longest wait (seconds) for more jobs before a batch starts. The batcher
            waits only while fewer jobs are queued than the previous batch answered plus
            those that queued meanwhile (answered clients usually come straight back), at
            most a quarter of that batch's run time, and never once the token budget is
            full; a lone sequential client never waits.
    """

    def __init__(
        self,
        backend: Any,
        *,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_wait: float = DEFAULT_MAX_WAIT,
    ) -> None:
        self.backend = backend
        self.max_wait = max_wait
        self._expect = 0  # jobs likely to be queued again soon (see max_wait)
        self._last_run = 0.0  # its run time in seconds
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self._pending: collections.deque[_Job] = collections.deque()
        self._queued_tokens = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._tokens_per_s = 2000.0  # updated from every batch
        self.batches = 0  # counters for /healthz and tests
        self.jobs = 0
        self.in_flight = 0

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="jina-v3-batcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish every queued job, then end the worker thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether queued requests will be embedded: started, alive and not stopping."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stopping

    @property
    def queued(self) -> int:
        return len(self._pending)

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained (at least 1)."""
        return max(1, math.ceil(self._queued_tokens / max(self._tokens_per_s, 1.0)))

    def submit(
        self, texts: list[str], *, task: str | None, late_chunking: bool, tokens: int
    ) -> asyncio.Future[Any]:
        """Queue a request; the future gets an array (or, late-chunked, one array per doc).

        Raises:
            QueueFullError: `max_queue` jobs are already waiting.
        """
        loop = asyncio.get_running_loop()
        job = _Job(task, late_chunking, texts, tokens, loop.create_future(), loop)
        with self._cond:
            if self._stopping:
                raise QueueFullError(5)
            if len(self._pending) >= self.max_queue:
                raise QueueFullError(self.retry_after())
            self._pending.append(job)
            self._queued_tokens += tokens
            self._cond.notify()
        return job.future

    def _take(self) -> list[_Job]:
        """Under the lock: the oldest job's key decides; its jobs are packed by the budget."""
        first = self._pending[0]
        same = [j for j in self._pending if j.key == first.key]
        taken = same[: len(next(pack((j.tokens for j in same), max_size=self.max_batch_tokens)))]
        chosen = {id(j) for j in taken}
        self._pending = collections.deque(j for j in self._pending if id(j) not in chosen)
        self._queued_tokens -= sum(j.tokens for j in taken)
        return taken

    def _linger(self) -> None:
        """Under the lock: wait briefly for the clients the last batch answered."""
        if self.max_wait <= 0 or len(self._pending) >= self._expect:
            return
        deadline = time.monotonic() + min(self.max_wait, 0.25 * self._last_run)
        while (
            not self._stopping
            and len(self._pending) < self._expect
            and self._queued_tokens < self.max_batch_tokens
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                self._linger()
                jobs = self._take()
                self.in_flight = len(jobs)
            jobs = [j for j in jobs if not j.future.cancelled()]  # clients that went away
            if jobs:
                self.batches += 1  # counted before the answers go out, so readers see them
                self.jobs += len(jobs)
                started = time.perf_counter()
                self._execute(jobs)
                elapsed = time.perf_counter() - started
                with self._cond:  # the clients just answered, plus those already back
                    self._expect, self._last_run = len(jobs) + len(self._pending), elapsed
                tokens = sum(j.tokens for j in jobs)
                self._tokens_per_s = 0.8 * self._tokens_per_s + 0.2 * tokens / max(elapsed, 1e-4)
            self.in_flight = 0

    def _execute(self, jobs: list[_Job]) -> None:
        # full-size, unnormalised floats; over-long inputs without truncate were refused already
        specs = [EmbedSpec(j.task, None, False, "float", truncate=True) for j in jobs]
        try:
            if jobs[0].late_chunking:  # one task (the key)
                results: list[Any] = self.backend.embed_documents([j.texts for j in jobs], specs[0])
            else:
                results = self.backend.embed_many(
                    [(j.texts, spec) for j, spec in zip(jobs, specs, strict=True)]
                )
        except Exception as exc:
            if len(jobs) > 1:  # one bad request must not fail the others: run them alone
                for j in jobs:
                    self._execute([j])
                return
            _deliver(jobs[0], exc, error=True)
            return
        for job, result in zip(jobs, results, strict=True):
            _deliver(job, result)


def _deliver(job: _Job, value: Any, *, error: bool = False) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if error:
            job.future.set_exception(value)
        else:
            job.future.set_result(value)

    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass

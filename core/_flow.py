"""How sync and async stay in step: logic is written once, as a generator of calls.

Every piece of logic that does I/O (a store operation, an index's ``add``, a remote request
with its retries) is a *flow*: a generator that does no I/O itself. It yields a :class:`Call`
naming what it needs done (``Call("client", "upsert", (rows,))``), and gets the result back
(or the exception thrown in, so it can decide to retry). Two drivers run a flow:

    run(flow, client=sync_client)              # result = client.upsert(rows)
    await arun(flow, client=async_client)      # result = await client.upsert(rows)

``arun`` awaits whatever a call returns when it is awaitable, so an async target is a native
async client, or :class:`InThread` around a sync one (each call then runs in a worker
thread and the event loop never blocks). The same flow object therefore backs ``upsert``
and ``aupsert``: they cannot drift apart. Flows compose with ``yield from``.

This is the sans-I/O pattern of httpx's ``BaseClient`` / ``Client`` / ``AsyncClient``, and of
qdrant-client's generated async client, reduced to one small module.

Where sync and async callers must take turns (creating a collection once), they share one
thread lock: :func:`alocked` holds it from a coroutine, and :class:`FirstUse` gives an
owner's calls their turns until its first-use setup is done.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Call", "FirstUse", "Flow", "InThread", "alocked", "arun", "run"]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Call:
    """One operation a flow asks its driver for: ``targets[target].<method>(*args, **kwargs)``."""

    target: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


#: A flow yields Calls, receives their results, and returns R.
Flow = Generator[Call, Any, R]

#: Wraps each call the driver makes, e.g. to translate a client's exceptions.
Guard = Callable[[Call], AbstractContextManager[Any]]


def _no_guard(call: Call) -> AbstractContextManager[Any]:
    return nullcontext()


def _step(flow: Flow[R], result: Any = None, error: BaseException | None = None) -> tuple[Any, Any]:
    """Resume `flow` with a call's result or error: ``(next call, None)``, or ``(None, value)``
    once it returns."""
    try:
        return (flow.throw(error) if error is not None else flow.send(result)), None
    except StopIteration as stop:
        return None, stop.value


def _invoke(call: Call, targets: Mapping[str, Any]) -> Any:
    return getattr(targets[call.target], call.method)(*call.args, **call.kwargs)


def run(flow: Flow[R], guard: Guard = _no_guard, **targets: Any) -> R:
    """Drive `flow` synchronously: each call runs on its target, its result is sent back."""
    call, value = _step(flow)
    while call is not None:
        try:
            with guard(call):
                result = _invoke(call, targets)
        except BaseException as exc:  # the flow decides: handle it, or let it propagate
            # (a KeyboardInterrupt too: the flow's `finally` still makes its cleanup calls,
            # where an abandoned generator would yield them into GeneratorExit)
            call, value = _step(flow, error=exc)
        else:
            call, value = _step(flow, result)
    return value


async def arun(flow: Flow[R], guard: Guard = _no_guard, **targets: Any) -> R:
    """Drive `flow` asynchronously: like :func:`run`, awaiting results that are awaitable."""
    call, value = _step(flow)
    while call is not None:
        outcome: tuple[Any, Exception | None]
        try:
            with guard(call):
                result = _invoke(call, targets)
                outcome = ((await result) if inspect.isawaitable(result) else result), None
        except Exception as exc:  # not CancelledError: a cancelled flow just stops
            outcome = None, exc
        call, value = _step(flow, *outcome)
    return value


class InThread:
    """An async view of a sync object: each method call runs in a worker thread.

    ``lock`` (optional) serialises the calls, for objects that one thread at a time may use.
    """

    def __init__(self, target: Any, lock: threading.RLock | None = None) -> None:
        self._target = target
        self._lock = lock

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._target, name)
        lock = self._lock

        async def call(*args: Any, **kwargs: Any) -> Any:
            if lock is None:
                return await asyncio.to_thread(method, *args, **kwargs)

            def locked() -> Any:
                with lock:
                    return method(*args, **kwargs)

            return await asyncio.to_thread(locked)

        return call


#: How often a coroutine waiting for a thread lock tries it again (seconds).
_LOCK_POLL = 0.005


@asynccontextmanager
async def alocked(lock: threading.Lock) -> AsyncIterator[None]:
    """Hold a thread lock from a coroutine: the same lock as the sync side's ``with lock``, so
    sync callers (in any thread) and async ones exclude each other. It is tried without
    blocking and waited for with ``asyncio.sleep``: no worker thread is held while waiting (a
    thread blocked in ``lock.acquire`` could starve the one the holder needs), and a cancelled
    waiter leaves the lock as it was."""
    await _acquire(lock)
    try:
        yield
    finally:
        lock.release()


async def _acquire(lock: threading.Lock) -> None:
    while not lock.acquire(blocking=False):
        await asyncio.sleep(_LOCK_POLL)


class FirstUse:
    """An owner's first-use setup (creating or checking its collection) runs once, however
    many calls arrive together.

    Until it is done, each call takes its turn (:meth:`turn` / :meth:`aturn` around the
    whole call); the call that runs the setup ends its turn with :meth:`finish`, so the rest
    of it runs alongside the others. A call that fails before finishing hands the turn on,
    and the next one tries the setup again. Once done, nothing is locked. One thread lock
    serves the sync and async drivers (see :func:`alocked`).
    """

    def __init__(self) -> None:
        self.done = False
        self._lock = threading.Lock()
        self._turn: object | None = None  # the token of the call holding the lock

    def finish(self) -> None:
        """The setup is done: the call running it lets the others in."""
        self.done = True
        if self._turn is not None:
            self._turn = None
            self._lock.release()

    def _end(self, token: object) -> None:
        if self._turn is token:  # not finished: the next call tries the setup
            self._turn = None
            self._lock.release()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Around a sync call: wait for the turn while the setup is not done."""
        if self.done:
            yield
            return
        self._lock.acquire()
        if self.done:  # done while this call waited
            self._lock.release()
            yield
            return
        token = self._turn = object()
        try:
            yield
        finally:
            self._end(token)

    @asynccontextmanager
    async def aturn(self) -> AsyncIterator[None]:
        """Around an async call: :meth:`turn`, waiting without blocking the event loop."""
        if self.done:
            yield
            return
        await _acquire(self._lock)
        if self.done:
            self._lock.release()
            yield
            return
        token = self._turn = object()
        try:
            yield
        finally:
            self._end(token)

"""The converter process: where every PDF, DOCX, PPTX, XLSX and HTML file is converted, so
that one file's time and memory are bounded and a runaway conversion is stopped, not the run.

One child Python process per reading process, started on the first converted file and
reused for the next (it pays markitdown's imports once). Each file is one request: the
child converts it under an address-space limit (``RLIMIT_AS``, on Linux) and a CPU-time
limit, and the parent waits at most the time limit for the answer; a file over either is
answered as skipped, and a child that was killed, or ran out of memory, is replaced for the
next file. The child ignores the terminal's Ctrl-C (it is in a session of its own): the
reader decides when to stop, and the child ends when the reader closes its end of the pipe.

The wire: pickled tuples over the child's stdin and stdout (its ``print`` goes to stderr,
which is discarded). First the parent's ``sys.path``, so the child imports what the parent
does; then the child answers ``("ready",)``, ``("missing", detail)`` (no formats extra) or
``("failed", detail)``; then per file ``(suffix, raw, memory_bytes, seconds)`` ->
``("ok", markdown)`` | ``("skip", reason)`` | ``("memory",)``.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import subprocess
import sys
import threading
from typing import IO, Any

__all__ = ["ConversionFailed", "ConverterMissing", "convert_isolated", "serve"]

_START_SECONDS = 120.0  # the child's imports (markitdown, pdfminer, pandas) on a slow disk
_CPU_SLACK_SECONDS = 5  # the child's own CPU limit, behind the parent's wall-clock one

# Runs in the child: its protocol channel is the real stdout; print() goes to stderr.
_BOOT = """\
import os, pickle, sys
channel = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
try:
    sys.path[:] = pickle.load(sys.stdin.buffer)
    from jina_v3.index._worker import serve
except BaseException as exc:
    pickle.dump(("failed", f"{type(exc).__name__}: {exc}"), channel)
    channel.flush()
    raise SystemExit(1)
serve(sys.stdin.buffer, channel)
"""


class ConverterMissing(Exception):
    """The ``formats`` extra cannot be imported (in the child, as in the reader)."""


class ConversionFailed(Exception):
    """The file is skipped; the message is why (one line)."""


class _Child:
    """One running converter process and the thread that reads its answers."""

    def __init__(self) -> None:
        session = {"start_new_session": True} if os.name == "posix" else {}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            **session,  # type: ignore[call-overload]
        )
        self.answers: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="jina-v3-converter").start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                self.answers.put(pickle.load(stdout))
        except Exception:  # EOFError: the child ended (or was killed)
            self.answers.put(None)

    def send(self, message: object) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        pickle.dump(message, stdin, protocol=pickle.HIGHEST_PROTOCOL)
        stdin.flush()

    def answer(self, seconds: float) -> tuple[Any, ...] | None:
        """The next answer; None when the child ended. Raises queue.Empty on timeout."""
        return self.answers.get(timeout=seconds)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:  # a write the child never read
                    pass


class _Converter:
    """The reading process's converter child: started when first needed, replaced after a
    file that broke a limit, and one file at a time (a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._owner = os.getpid()
        self._missing: str | None = None
        atexit.register(self.close)

    def close(self) -> None:
        """Ends the child (at exit: a conversion in flight is not wanted any more)."""
        if self._child is not None and self._owner == os.getpid():
            self._child.stop()
        self._child = None

    def _started(self) -> _Child:
        if self._owner != os.getpid():  # a forked reader: the child is its parent's
            self._child, self._owner = None, os.getpid()
        if self._child is not None and self._child.process.poll() is None:
            return self._child
        try:
            self._child = child = _Child()
        except OSError as exc:  # no interpreter to start (a frozen application)
            raise ConversionFailed(f"cannot start the converter process ({exc})") from None
        try:
            child.send(list(sys.path))
            ready = child.answer(_START_SECONDS)
        except (OSError, queue.Empty):
            ready = None
        if ready is not None and ready[0] == "ready":
            return child
        self._child = None
        child.stop()
        if ready is not None and ready[0] == "missing":
            self._missing = ready[1]
            raise ConverterMissing(ready[1])
        detail = ready[1] if ready is not None else "it ended at start"
        raise ConversionFailed(f"cannot start the converter process ({detail})")

    def convert(self, suffix: str, raw: bytes, *, seconds: float, memory: int | None) -> str:
        with self._lock:
            if self._missing is not None:
                raise ConverterMissing(self._missing)
            child = self._started()
            try:
                child.send((suffix, raw, memory, seconds))
                answer = child.answer(seconds)
            except queue.Empty:
                self._replace(child)
                raise ConversionFailed(
                    f"converting it took over {seconds:g} s (the limit)"
                ) from None
            except OSError:  # the pipe broke: the child had ended
                answer = None
            if answer is None or answer[0] == "memory":
                self._replace(child)
                if answer is None:
                    raise ConversionFailed(
                        "the converter stopped on it (it crashed or ran out of memory)"
                    )
                raise ConversionFailed(
                    f"converting it needed over {_megabytes(memory)} of memory (the limit)"
                )
            if answer[0] == "skip":
                raise ConversionFailed(answer[1])
            return str(answer[1])

    def _replace(self, child: _Child) -> None:
        self._child = None
        child.stop()


_converter = _Converter()


def convert_isolated(suffix: str, raw: bytes, *, seconds: float, memory: int | None) -> str:
    """The Markdown of a file (of type `suffix`), converted in the converter process within
    `seconds` and `memory` bytes more address space (None: unbounded).

    Raises:
        ConverterMissing: The ``formats`` extra is not installed.
        ConversionFailed: The file is skipped (why, one line).
    """
    return _converter.convert(suffix, raw, seconds=seconds, memory=memory)


def _megabytes(size: int | None) -> str:
    return f"{(size or 0) / 2**20:.0f} MB"


# -- the child's side ----------------------------------------------------------------------


def serve(requests: IO[bytes], channel: IO[bytes]) -> None:
    """The child's loop: one answer per request until the parent closes the pipe."""
    import signal

    from jina_v3.index._markdown import MissingConverter, convert, load

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the reader stops us (Windows: no session)

    def reply(*message: object) -> None:
        pickle.dump(message, channel, protocol=pickle.HIGHEST_PROTOCOL)
        channel.flush()

    try:
        load()
    except MissingConverter as exc:
        reply("missing", str(exc))
        return
    reply("ready")
    while True:
        try:
            suffix, raw, memory, seconds = pickle.load(requests)
        except EOFError:
            return
        _limit_cpu(seconds)
        try:
            with _MemoryLimit(memory):
                markdown = convert(suffix, raw)
        except MemoryError:  # the limit is lifted: room to answer, then end (a fresh child)
            reply("memory")
            return
        except ValueError as exc:
            reply("skip", str(exc))
        else:
            reply("ok", markdown)


class _MemoryLimit:
    """Within it, at most `memory` bytes of address space over what the process holds on
    entry (Linux; elsewhere, and with `memory` None, no limit). Lifted on exit first thing,
    before anything allocates: a MemoryError leaves the file's objects held until handled."""

    def __init__(self, memory: int | None) -> None:
        self.memory = memory
        self.before: tuple[int, int] | None = None

    def __enter__(self) -> None:
        held = _address_space()
        if self.memory is None or held is None:
            return
        import resource

        self.before = soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = held + self.memory
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or limit < soft:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

    def __exit__(self, *_: object) -> None:
        if self.before is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, self.before)


def _limit_cpu(seconds: float) -> None:
    """At most `seconds` more CPU time (and a little slack) for the next file: the guard for
    when the reader is gone; the reader's own wall clock comes first."""
    try:
        import resource
    except ImportError:  # Windows: the reader's time limit only
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(usage.ru_utime + usage.ru_stime + seconds) + _CPU_SLACK_SECONDS
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        cpu = min(cpu, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))


def _address_space() -> int | None:
    """This process's address space in bytes (Linux), else None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None

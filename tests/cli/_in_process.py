"""`jina-v3 ARGS` (or `python SCRIPT ARGS`) run in this process, as a fresh
`python -m jina_v3.cli ARGS` would see it.

A subprocess costs a Python start and every import (torch, the engines) per call: about
seconds a call, most of the CLI tests' time. In-process, the call gets what a fresh process
has and gives back what it leaves behind:

- its environment (`os.environ`), working directory, `sys.argv` and stdin;
- file descriptors 1 and 2 redirected to files, with `sys.stdout` / `sys.stderr` on them
  (so a C library's output is caught too), decoded as `subprocess.run(text=True)` does;
- logging as the interpreter starts it (no handler on the root, level WARNING, no logger
  disabled, so a warning with no handler reaches stderr through `logging.lastResort`),
  warnings with Python's default filters, shown on stderr;
- the module state a process starts with: the licence note not yet logged, and
  huggingface_hub's offline switch as `HF_HUB_OFFLINE` says;
- the exit status `python` gives: main()'s return value, SystemExit's code (a message:
  printed, 1), an uncaught exception's traceback and 1, KeyboardInterrupt's -SIGINT.

Everything is restored when the call ends. What it cannot do is start Python afresh:
variables read once at start-up or import (`PYTHON*`, `HF_*` but HF_HUB_OFFLINE) must be
the current process's, else the call is refused (pass `process=True`); signals, the console
script and whatever depends on a process's own life stay with `process=True` callers.
"""

from __future__ import annotations

import contextlib
import io
import locale
import logging
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

# Read once, when Python starts or a library is imported: a call cannot change them.
_STARTUP_PREFIXES = ("PYTHON", "HF_")
_PER_CALL = {"PYTHONUNBUFFERED", "HF_HUB_OFFLINE"}  # unbuffered: output is written through

# The filters `python` starts with (no -W, no PYTHONWARNINGS, release build).
_DEFAULT_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, None),
    ("ignore", PendingDeprecationWarning, None),
    ("ignore", ImportWarning, None),
    ("ignore", ResourceWarning, None),
)


def run_in_process(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m jina_v3.cli ARGS` in this process: its status, stdout and stderr."""
    from jina_v3.cli import main

    argv = [str(arg) for arg in args]
    return _as_a_process(["jina-v3", *argv], lambda: main(argv), cwd, env, input)


def run_script_in_process(
    script: Path, args: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python SCRIPT ARGS` in this process, as `__main__` with the script's folder first on
    `sys.path` (as Python puts it)."""

    def run() -> None:
        sys.path.insert(0, str(script.parent))
        try:
            runpy.run_path(str(script), run_name="__main__")
        finally:
            sys.path.remove(str(script.parent))

    return _as_a_process([str(script), *map(str, args)], run, cwd, env, None)


def _as_a_process(
    argv: list[str],
    run: Callable[[], object],
    cwd: Path,
    env: Mapping[str, str],
    input: str | None,
) -> subprocess.CompletedProcess[str]:
    _refuse_startup_variables(env)
    hub = _hub_constants()  # imported under this process's environment, not the call's
    with (
        _fresh_module_state(env, hub),
        _environment(env),
        _working_directory(cwd),
        _argv_and_stdin(argv, input),
        _fresh_logging(),
        _fresh_warnings(),
        _signal_handlers(),
        _captured() as output,
    ):
        returncode = _exit_status(run)
    return subprocess.CompletedProcess(argv, returncode, output["stdout"], output["stderr"])


def _refuse_startup_variables(env: Mapping[str, str]) -> None:
    names = {*env, *os.environ}
    differ = sorted(
        name
        for name in names
        if name.startswith(_STARTUP_PREFIXES)
        and name not in _PER_CALL
        and env.get(name) != os.environ.get(name)
    )
    if differ:
        raise ValueError(
            f"cli(): {', '.join(differ)} take effect when Python starts or a library is "
            "imported, so an in-process run cannot honour them; pass process=True"
        )


def _exit_status(run: Callable[[], object]) -> int:
    """What a fresh interpreter exits with when its `__main__` does `run()` (the CLI's:
    `raise SystemExit(main())`)."""
    try:
        code = run()
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        traceback.print_exc()
        return -signal.SIGINT  # Python dies of the signal: subprocess reports -2
    except BaseException:  # the interpreter prints any uncaught error
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    if code is None:
        return 0
    if isinstance(code, int):
        return code % 256
    print(code, file=sys.stderr)
    sys.stderr.flush()
    return 1


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _working_directory(cwd: Path) -> Iterator[None]:
    saved = os.getcwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved)


@contextlib.contextmanager
def _argv_and_stdin(argv: list[str], input: str | None) -> Iterator[None]:
    saved = sys.argv, sys.stdin
    sys.argv = argv
    encoding = locale.getpreferredencoding(False)  # as subprocess.run(input=..., text=True)
    sys.stdin = io.TextIOWrapper(io.BytesIO((input or "").encode(encoding)), encoding)
    try:
        yield
    finally:
        sys.argv, sys.stdin = saved


@contextlib.contextmanager
def _fresh_logging() -> Iterator[None]:
    """Logging as a new interpreter has it (pytest's handlers off, nothing disabled by an
    earlier dictConfig); every logger as it was afterwards."""
    manager = logging.Logger.manager
    named = [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    loggers = [logging.root, *named]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate, lg.disabled) for lg in loggers]
    disabled = manager.disable
    logging.root.handlers.clear()
    logging.root.setLevel(logging.WARNING)
    logging.disable(logging.NOTSET)
    for logger in loggers:
        logger.disabled = False
    try:
        yield
    finally:
        logging.disable(disabled)
        for logger, handlers, level, propagate, was_disabled in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = was_disabled


@contextlib.contextmanager
def _fresh_warnings() -> Iterator[None]:
    """Python's default filters, warnings printed to stderr (not recorded by pytest), and
    each shown again as in a new process (changing the filters resets the once-registry)."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for action, category, module in reversed(_DEFAULT_FILTERS):
            warnings.filterwarnings(action, category=category, module=module or "")
        warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
        yield


@contextlib.contextmanager
def _fresh_module_state(env: Mapping[str, str], hub: Any) -> Iterator[None]:
    """The module state a new process starts with: the licence note not yet logged (each
    process logs it once), huggingface_hub offline as the call's HF_HUB_OFFLINE says."""
    checkpoint = sys.modules.get("jina_v3.local.checkpoint")  # not imported: nothing logged
    saved_licence = checkpoint._licence_logged if checkpoint else None
    if checkpoint:
        checkpoint._licence_logged = False
    saved_offline = hub.HF_HUB_OFFLINE if hub else None
    if hub:
        hub.HF_HUB_OFFLINE = env.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    try:
        yield
    finally:
        if checkpoint:
            checkpoint._licence_logged = saved_licence
        if hub:
            hub.HF_HUB_OFFLINE = saved_offline


def _hub_constants() -> Any:
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    return constants


@contextlib.contextmanager
def _signal_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _captured() -> Iterator[dict[str, str]]:
    """File descriptors 1 and 2 into files, `sys.stdout` / `sys.stderr` written through to
    them (as with PYTHONUNBUFFERED); the text as `subprocess.run(text=True)` reads it."""
    encoding = locale.getpreferredencoding(False)
    output: dict[str, str] = {}
    saved_streams = sys.stdout, sys.stderr
    files = {fd: tempfile.TemporaryFile() for fd in (1, 2)}
    saved_fds = {fd: os.dup(fd) for fd in files}
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, file in files.items():
        os.dup2(file.fileno(), fd)
    sys.stdout = io.TextIOWrapper(
        open(1, "wb", buffering=0, closefd=False), encoding, "strict", write_through=True
    )
    sys.stderr = io.TextIOWrapper(
        open(2, "wb", buffering=0, closefd=False), encoding, "backslashreplace",
        write_through=True,
    )  # fmt: skip
    try:
        yield output
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved_streams
        for fd, file in files.items():
            os.dup2(saved_fds[fd], fd)
            os.close(saved_fds[fd])
            file.seek(0)
            text = file.read().decode(encoding)
            output["stdout" if fd == 1 else "stderr"] = text.replace("\r\n", "\n").replace(
                "\r", "\n"
            )
            file.close()

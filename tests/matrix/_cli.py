"""`jina-v3 ARGS` run in this process: the same `main()` the console script calls, with its
stdout and stderr captured, the working folder and environment set for the call only, and
the process-wide state a run changes (the library logger's handler) put back afterwards.

About 50 times faster than a subprocess (no interpreter start, no torch import per call),
which is what lets the matrix run hundreds of commands.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TINY_MODEL

#: Variables a developer may have set that would change what a command does.
_SCRUB = ("JINA_API_KEY", "JINAAI_API_KEY", "JINA_API_BASE_URL", "JINA_V3_MODEL")


@dataclass(frozen=True)
class Result:
    rc: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The one line a refused command prints (library notes aside)."""
        assert self.rc != 0, f"expected a refusal, got exit 0: {self.stdout[-500:]}"
        assert "Traceback" not in self.stderr, self.stderr
        lines = [ln for ln in self.stderr.splitlines() if ln.strip() and ": note: " not in ln]
        assert len(lines) == 1, f"expected one line, got:\n{self.stderr}"
        return lines[0]

    def ok(self) -> Result:
        assert self.rc == 0, f"exit {self.rc}:\n{self.stderr[-2000:]}"
        return self


@contextlib.contextmanager
def environment(cwd: Path, env: Mapping[str, str]) -> Iterator[None]:
    """`cwd` as the working folder and `env` on top of the scrubbed environment, restored."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    for name in _SCRUB:
        os.environ.pop(name, None)
    os.environ.update({"HF_HUB_OFFLINE": "1", "JINA_V3_MODEL": str(TINY_MODEL), **env})
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


@contextlib.contextmanager
def _library_logger() -> Iterator[None]:
    """The CLI attaches a stderr handler to the `jina_v3` logger (and stops propagation):
    keep that from leaking into later tests (caplog relies on propagation)."""
    logger = logging.getLogger("jina_v3")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    logger.handlers = []
    try:
        yield
    finally:
        logger.handlers, logger.propagate, logger.level = handlers, propagate, level


def run(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Result:
    """`jina-v3 ARGS` in this process; its exit status and output."""
    from jina_v3.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with (
        environment(cwd, env or {}),
        _library_logger(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse, and the commands' own one-line exits
            if isinstance(exc.code, str):
                print(exc.code, file=err)
                rc = 1
            else:
                rc = exc.code or 0
    return Result(rc, out.getvalue(), err.getvalue())

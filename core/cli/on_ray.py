"""``jina-v3 index --ray [ADDRESS]``: the same ingestion on Ray Data (a local instance on
127.0.0.1, or an existing cluster), through :func:`jina_v3.distributed.index_dataset`."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from jina_v3.cli.index import notes, resolve_model
from jina_v3.errors import ConfigurationError


def ingest_on_ray(args: argparse.Namespace, stop: Callable[[], bool]) -> Any:
    """The same ingestion on Ray Data (`--ray [ADDRESS]`): a local instance on 127.0.0.1, or
    an existing cluster."""
    if args.chunk_overlap:
        raise ConfigurationError("--chunk-overlap does not run on --ray yet; drop one of them")

    notes(args)
    if args.hybrid:
        raise ConfigurationError("--hybrid does not run on Ray yet; index without --ray")
    backend, model = resolve_model(args)
    if args.debug:  # Ray's own output as it comes
        return _index(args, stop, backend, model, ray_options=None)
    with _ray_quietened(), _native_stderr_elsewhere(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"ray(\.|$)")  # Ray Data's operator warnings
        # the workers' output stays in Ray's session logs; the library's warnings come back
        # with their results and print here once each (jina_v3.distributed.notes)
        ray_options = {"log_to_driver": False, "logging_level": logging.ERROR}
        return _index(args, stop, backend, model, ray_options=ray_options)


def _index(
    args: argparse.Namespace,
    stop: Callable[[], bool],
    backend: str,
    model: str | None,
    ray_options: dict[str, Any] | None,
) -> Any:
    from jina_v3.distributed import index_dataset
    from jina_v3.index.chunking import DEFAULT_CHUNK_TOKENS
    from jina_v3.progress import Progress

    def warn(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    return index_dataset(
        args.paths,
        args.store,
        collection=args.collection,
        model=model,
        backend=backend,
        embedder_options={"dtype": args.dtype} if backend == "local" and args.dtype else None,
        api_key_env="JINA_API_KEY" if backend == "api" else None,
        dimensions=args.dimensions,
        late_chunking=args.late_chunking,
        embedding_type=getattr(args, "embedding_type", "float"),
        chunk_tokens=args.chunk_tokens or DEFAULT_CHUNK_TOKENS,
        batch_size=args.batch_size or 256,
        recreate=args.recreate,
        glob=args.glob,
        actors=args.actors,
        ray_address=None if args.ray == "local" else args.ray,
        ray_options=ray_options,
        progress=Progress(mode="off" if args.quiet else "auto"),
        stop=stop,
        on_skipped=lambda line: warn(f"jina-v3 index: warning: {line}"),
    )


@contextlib.contextmanager
def _native_stderr_elsewhere() -> Iterator[None]:
    """Python's stderr keeps the terminal while file descriptor 2, where Ray's C++ core
    worker writes its log lines (and anything Ray bound to it before), goes to /dev/null.

    What this command prints (notes, warnings, progress, its errors) goes through
    ``sys.stderr`` and the ``jina_v3`` logger's handlers, which are moved to the terminal's
    own descriptor for the block; ``--debug`` leaves everything as Ray does it.
    """
    original = sys.stderr
    try:
        on_fd2 = original.fileno() == 2
    except (AttributeError, OSError, ValueError):  # replaced by a caller (a test's capture)
        on_fd2 = False
    if not on_fd2:
        yield
        return
    original.flush()
    terminal = os.dup(2)
    ours = io.TextIOWrapper(
        io.FileIO(terminal, "w"),
        encoding=original.encoding,
        errors="backslashreplace",
        line_buffering=True,
    )
    moved = [
        handler
        for name in ("jina_v3", "")  # the CLI's note handler; the root's (basicConfig)
        for handler in logging.getLogger(name or None).handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is original
    ]
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    sys.stderr = ours
    for handler in moved:
        handler.setStream(ours)
    try:
        yield
    finally:
        ours.flush()
        for handler in moved:
            handler.setStream(original)
        sys.stderr = original
        os.dup2(terminal, 2)
        ours.close()  # and the duplicate descriptor with it


@contextlib.contextmanager
def _ray_quietened() -> Iterator[None]:
    """Ray's own console logging off while the job runs: a failed job is the CLI's one line,
    not Ray's tracebacks of it (``--debug`` keeps them). Their levels come back when it
    ends, so a later run in this process (``--debug`` or not) sets its own."""
    try:
        import ray.data  # noqa: F401 (importing it sets up Ray's loggers, which are then quietened)
    except ImportError:
        yield  # index_dataset says what to install
        return
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)

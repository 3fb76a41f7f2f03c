"""``jina-v3 index --ray [ADDRESS]``: the same ingestion on Ray Data (a local instance on
127.0.0.1, or an existing cluster), through :func:`jina_v3.distributed.index_dataset`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jina_v3.cli.index import notes, resolve_model
from jina_v3.errors import ConfigurationError


def ingest_on_ray(args: argparse.Namespace, stop: Callable[[], bool]) -> Any:
    """The same ingestion on Ray Data (`--ray [ADDRESS]`): a local instance on 127.0.0.1, or
    an existing cluster."""
    from jina_v3.distributed import index_dataset
    from jina_v3.index.chunking import DEFAULT_CHUNK_TOKENS
    from jina_v3.progress import Progress

    if args.chunk_overlap:
        raise ConfigurationError("--chunk-overlap does not run on --ray yet; drop one of them")

    notes(args)
    if args.hybrid:
        raise ConfigurationError("--hybrid does not run on Ray yet; index without --ray")
    backend, model = resolve_model(args)
    warn = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
    with _ray_quietened(not args.debug):
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
            progress=Progress(mode="off" if args.quiet else "auto"),
            stop=stop,
            on_skipped=lambda line: warn(f"jina-v3 index: warning: {line}"),
        )


@contextmanager
def _ray_quietened(quiet: bool) -> Iterator[None]:
    """Ray's own console logging off while the job runs (`quiet`): a failed job is the CLI's
    one line, not Ray's tracebacks of it (``--debug`` keeps them). Their levels come back
    when it ends, so a later run in this process (``--debug`` or not) sets its own."""
    try:
        import ray.data  # noqa: F401 (importing it sets up Ray's loggers, which are then quietened)
    except ImportError:
        yield  # index_dataset says what to install
        return
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    if quiet:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)

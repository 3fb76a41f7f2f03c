"""Distributed embedding and ingestion on Ray Data: :func:`index_dataset`.

    corpus files ─ read (one task, the reader ``jina-v3 index`` uses) ┐
    or a ray.data.Dataset (id, text, metadata ...)                    ├─ blocks of batch_size
    or a list of Documents                                            ┘  documents
      -> chunk (Ray tasks: the chunker VectorIndex uses)
      -> embed + write (an actor pool: each actor has its own embedder and store client and
         runs VectorIndex.ingest on its blocks: same ids, content hashes, skip-unchanged,
         heads written last, signature checks)
      -> one summary row per block -> the driver (progress, IngestSummary)

The collection is created (or checked) on the driver before any worker starts. A store
that one process owns (``qdrant-edge:``, ``milvus-lite:``, ``qdrant:`` local mode) is opened
by one :class:`StoreOwner` actor that every embedding actor writes through, so every store
URI works. Retries: Ray restarts a dead actor and re-runs its block; a block whose user code
raised is re-run only for transient errors (:data:`TRANSIENT_ERRORS`), never for a
configuration or signature error. Re-running a block is harmless (deterministic ids; a
document whose head point is stored is complete), so a failed or restarted job converges
to the same index.

Example:
    >>> from jina_v3.distributed import index_dataset
    >>> summary = index_dataset(["docs/"], "milvus:http://127.0.0.1:19530",
    ...                         model="jinaai/jina-embeddings-v3", dimensions=256)
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from jina_v3.distributed.failures import TRANSIENT_ERRORS, TransientStoreError, library_error
from jina_v3.distributed.workers import (
    SUMMARY_COUNTS,
    EmbedderSpec,
    EmbedWorker,
    IndexSpec,
    StoreOwner,
    TokenBucket,
    batch_table,
    chunk_block,
    dataset_block,
    describe,
    read_block,
)
from jina_v3.errors import ConfigurationError, MissingDependencyError, check_positive
from jina_v3.index.chunking import DEFAULT_CHUNK_TOKENS
from jina_v3.index.plan import IngestSummary
from jina_v3.index.store import Document
from jina_v3.progress import Progress

__all__ = [
    "TRANSIENT_ERRORS",
    "StoreOwner",
    "TokenBucket",
    "TransientStoreError",
    "index_dataset",
    "init_ray",
    "is_embedded_store",
]

logger = logging.getLogger(__name__)

_LOOPBACK = "127.0.0.1"
_EMBEDDED_SCHEMES = ("qdrant-edge", "milvus-lite", "qdrant")


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError(
            "Ray is not installed; run `pip install 'jina-v3-connectors[ray]'`."
        ) from exc
    return ray


def init_ray(address: str | None = None, **options: Any) -> bool:
    """Connect this process to Ray, unless it is connected already.

    Args:
        address: None or ``"local"``: start a local instance that listens on 127.0.0.1
            only; ``"auto"``, ``"HOST:6379"`` or ``"ray://HOST:10001"``: an existing cluster.
        options: More ``ray.init`` arguments (``num_cpus``, ``runtime_env`` ...).

    Returns:
        True when this call connected (the caller then calls ``ray.shutdown()``).
    """
    local = address in (None, "local")
    if local:
        # both are needed, or Ray binds the machine's network address too
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray = _ray()
    if ray.is_initialized():
        return False
    if local:
        options = {"include_dashboard": False, "_node_ip_address": _LOOPBACK, **options}
        ray.init(**options)
    else:
        ray.init(address=address, **options)
    return True


def is_embedded_store(uri: str) -> bool:
    """Whether a store URI names an engine that one process owns (a file or directory)."""
    scheme, _, target = uri.partition(":")
    return scheme in _EMBEDDED_SCHEMES and not target.startswith(("http://", "https://"))


def _absolute(uri: str) -> str:
    """An embedded store's path made absolute (workers may not share the driver's cwd)."""
    from jina_v3.connectors.uris import anchored

    return anchored(uri, os.getcwd())


def index_dataset(
    source: Any,
    store_uri: str | None = None,
    *,
    collection: str | None = None,
    model: str | None = None,
    backend: str = "local",
    embedder_options: Mapping[str, Any] | None = None,
    api_key_env: str | None = None,
    embedder_factory: Callable[[], Any] | None = None,
    dimensions: int | None = None,
    late_chunking: bool = False,
    chunk_tokens: int | None = DEFAULT_CHUNK_TOKENS,
    batch_size: int = 256,
    embedding_type: str = "float",
    truncate: bool = False,
    recreate: bool = False,
    skip_unchanged: bool = True,
    glob: str | None = None,
    actors: int | None = None,
    threads: int | None = None,
    forward_env: Sequence[str] = (),
    gpus_per_actor: float | None = None,
    tokens_per_minute: float | None = None,
    retries: int = 3,
    ray_address: str | None = None,
    progress: bool | Progress = False,
    stop: Callable[[], bool] | None = None,
    on_skipped: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Index a corpus on a Ray cluster: the same points as ``VectorIndex.ingest``.

    Args:
        source: Files and folders (``.txt``, ``.md``, ``.jsonl``, read as ``jina-v3 index``
            reads them), a ``ray.data.Dataset`` with ``id`` and ``text`` columns (an
            optional ``metadata`` column of dicts or JSON, other columns become metadata;
            ids must be unique), or a sequence of :class:`~jina_v3.Document`.
        store_uri: Where to write (:mod:`jina_v3.connectors.uris`; default
            ``DEFAULT_STORE_URI``). Workers open it themselves; an embedded store is written
            through one owner actor on the driver's node.
        collection: The collection (default ``DEFAULT_COLLECTION``).
        model: Checkpoint directory or hub id (local), or the API model name.
        backend: ``"local"`` (torch in each actor) or ``"api"`` (the hosted API).
        embedder_options: More ``Embedder`` options (``dtype``, ``device``,
            ``max_batch_tokens``, ``base_url``, ``timeout``, ``max_concurrency`` ...; not
            ``api_key``).
        api_key_env: The variable holding the API key, read by name on each worker (default:
            the embedder's own ``JINA_API_KEY`` / ``JINAAI_API_KEY``). Ray is never given the
            value (no pickle, task argument or runtime env holds it): a local instance that
            this call starts inherits this process's environment; on a cluster, or an
            instance started before the variable was set, set it on every node.
        embedder_factory: A picklable zero-argument callable that builds each worker's
            embedder, instead of ``model``/``backend``/``embedder_options``.
        dimensions, late_chunking, batch_size, embedding_type, truncate, recreate:
            As for :class:`~jina_v3.VectorIndex` (``batch_size`` is also the documents
            per Ray block).
        chunk_tokens: The chunker's token budget (None: documents are not chunked, unless
            ``late_chunking``).
        skip_unchanged: Skip documents whose stored content hash is the same.
        glob: Only files matching this pattern (file sources).
        actors: Embedding actors (default: one per GPU; else one per ``threads`` CPUs; 2
            for the API).
        threads: Torch threads of each CPU actor (default 1), which it reserves as CPUs.
        gpus_per_actor: GPUs per actor (default 1 where the cluster has GPUs, else 0).
        tokens_per_minute: A global token rate for API-backed actors (one bucket actor).
        retries: Re-runs of a block on one actor after a transient error (Ray restarts a
            dead actor and re-runs its block without limit).
        forward_env: Removed (a non-empty value is a ConfigurationError): Ray writes
            runtime-env values in clear to its session logs. Workers read variables from
            their own environment, as ``api_key_env`` says.
        ray_address: None or ``"local"``: a local Ray instance on 127.0.0.1 (unless this
            process is connected already); ``"auto"`` or ``"ray://HOST:10001"``: a cluster.
        progress: Show progress (True) or report to this Progress (aggregated on the driver).
        stop: Checked after each block's summary: True stops the job (``interrupted=True``);
            re-running continues.
        on_skipped: Called with each skipped file or row (default: a logged warning).

    Returns:
        The run's :class:`~jina_v3.index.IngestSummary` (``failed``: skipped inputs;
        ``extra``: ``actors``, ``startup_s``, ``blocks``, and ``jsonl_ids``: the ids read
        from each ``.jsonl`` file, as :data:`jina_v3.sources.JsonlIds`, for pruning).

    Raises:
        ConfigurationError: Invalid settings, a root that does not exist.
        SignatureMismatchError, DimensionMismatchError: The collection was built otherwise.
        MissingDependencyError: Ray is not installed.
        JinaV3Error: Any library error of a worker, as itself (not Ray's wrapper of it).
    """
    from jina_v3.connectors.uris import DEFAULT_COLLECTION, DEFAULT_STORE_URI, open_store

    check_positive("batch_size", batch_size)
    if actors is not None:
        check_positive("actors", actors)
    if threads is not None:
        check_positive("threads", threads)
    if backend not in ("local", "api"):
        raise ConfigurationError(f"backend must be 'local' or 'api', got {backend!r}")
    if forward_env:
        raise ConfigurationError(
            "forward_env was removed: Ray writes runtime-env values in clear to its session "
            "logs. Set the variables in the environment of the process that starts Ray (a "
            "local instance started by index_dataset inherits them) or on every node of the "
            "cluster; api_key_env names the API key's variable."
        )
    options = dict(embedder_options or {})
    if "api_key" in options:
        raise ConfigurationError(
            "embedder_options must not carry api_key (it would travel in a pickle); put the "
            "key in an environment variable and pass api_key_env='NAME'."
        )
    uri = _absolute(store_uri or DEFAULT_STORE_URI)
    collection = collection or DEFAULT_COLLECTION
    files = _list_files(source, glob)  # before Ray: a typo fails at once

    started = time.perf_counter()
    connected = init_ray(ray_address)
    ray = _ray()
    startup = time.perf_counter() - started
    owner = None
    try:
        spec = EmbedderSpec(
            model=model,
            backend=backend,
            options=tuple(sorted(options.items())),
            api_key_env=api_key_env,
            factory=embedder_factory,
        )
        plan = _Resources.of(ray, backend, actors, threads, gpus_per_actor, embedder_factory)
        index = IndexSpec(
            embedder=spec,
            store_uri=uri,
            collection=collection,
            dimensions=dimensions,
            late_chunking=bool(late_chunking),
            chunk_tokens=chunk_tokens,
            batch_size=batch_size,
            embedding_type=embedding_type,
            truncate=bool(truncate),
            skip_unchanged=bool(skip_unchanged),
            threads=plan.threads,
            retries=retries,
        )
        signature = _signature(ray, index)
        # the collection is created or checked here, before any worker writes
        if is_embedded_store(uri):
            owner = _start_owner(ray, uri, collection)
            ray.get(owner.call.remote("ensure_collection", signature, recreate=recreate))
        else:
            store = open_store(uri, collection)
            try:
                store.ensure_collection(signature, recreate=recreate)
            finally:
                store.close()
        bucket = None
        if tokens_per_minute is not None and backend == "api":
            bucket = ray.remote(TokenBucket).options(num_cpus=0).remote(tokens_per_minute)
        index = replace(index, owner=owner, bucket=bucket)
        summary = _run(ray, source, files, index, plan, progress, stop, on_skipped)
        summary.extra.update(actors=plan.actors, startup_s=startup)
        summary.seconds = time.perf_counter() - started - startup
        return summary
    except Exception as exc:
        original = library_error(exc)
        if original is None or original is exc:
            raise
        raise original from exc  # the worker's error as itself; Ray's report as its cause
    finally:
        if owner is not None:
            try:
                ray.get(owner.close.remote())
            finally:
                ray.kill(owner)
        if connected:
            ray.shutdown()


_signatures: dict[bytes, Any] = {}


def _signature(ray: Any, index: IndexSpec) -> Any:
    """The index's embedding signature, from a worker that builds its embedder (so the
    driver needs no weights); kept for the next call with the same settings."""
    import pickle

    try:
        key: bytes | None = pickle.dumps(index)
    except Exception:  # a factory that pickles only through Ray's cloudpickle
        key = None
    if key is not None and key in _signatures:
        return _signatures[key]
    signature = ray.get(ray.remote(describe).remote(index))
    if key is not None:
        _signatures[key] = signature
    return signature


def _list_files(source: Any, glob: str | None) -> list[Any] | None:
    """The files of a path source (absolute paths to open: workers have their own cwd)."""
    if isinstance(source, (str, os.PathLike)) or (
        isinstance(source, (list, tuple)) and all(isinstance(s, (str, os.PathLike)) for s in source)
    ):
        from jina_v3.index.sources import SourceFile, list_files

        return [
            replace(f, path=os.path.abspath(f.path)) if isinstance(f, SourceFile) else f
            for f in list_files(source, glob=glob)
        ]
    return None


class _Resources:
    """How many embedding actors, and what each reserves; what the light tasks reserve."""

    def __init__(
        self, actors: int, cpus: float, gpus: float, threads: int | None, task_cpus: float
    ) -> None:
        self.actors, self.cpus, self.gpus = actors, cpus, gpus
        self.threads, self.task_cpus = threads, task_cpus

    @classmethod
    def of(
        cls,
        ray: Any,
        backend: str,
        actors: int | None,
        threads: int | None,
        gpus: float | None,
        factory: Any,
    ) -> _Resources:
        total = ray.cluster_resources()
        cluster_cpus, cluster_gpus = float(total.get("CPU", 1)), float(total.get("GPU", 0))
        if backend == "api" and factory is None:
            n = actors or 2
            return cls(n, 0.25, 0.0, None, 1.0 if cluster_cpus - 0.25 * n >= 1 else 0.0)
        if gpus is None:
            gpus = 1.0 if cluster_gpus >= 1 else 0.0
        if gpus > 0:
            n = actors or max(1, int(cluster_gpus // gpus))
            cpus, threads = 1.0, threads
        else:
            threads = threads or 1
            n = actors or max(1, int(cluster_cpus // threads))
            cpus = float(threads)
        # Chunking and reading are light; where the actors reserve every CPU they run
        # beside them (0 reserved) rather than wait for a CPU that never frees.
        spare = cluster_cpus - n * cpus
        return cls(n, cpus, gpus, threads, 1.0 if spare >= 1 else 0.0)


def _start_owner(ray: Any, uri: str, collection: str) -> Any:
    options: dict[str, Any] = {"num_cpus": 0, "max_restarts": 3, "max_task_retries": 3}
    try:  # on the driver's node, where the file or directory is
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node = ray.get_runtime_context().get_node_id()
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
    except Exception:  # a ray:// client has no node of its own
        pass
    return ray.remote(StoreOwner).options(**options).remote(uri, collection)


def _dataset(ray: Any, source: Any, files: list[Any] | None, rows: int, task_cpus: float) -> Any:
    """The source as one row per batch of `rows` documents (and inputs left out)."""
    if files is not None:
        return ray.data.from_items([{"part": 0}]).map_batches(
            read_block,
            fn_kwargs={"files": files, "documents_per_batch": rows, "cwd": os.getcwd()},
            batch_size=None,
            batch_format="pyarrow",
            num_cpus=task_cpus,
        )
    if isinstance(source, ray.data.Dataset):
        return source.map_batches(
            dataset_block, batch_size=rows, batch_format="pyarrow", num_cpus=task_cpus
        )
    if isinstance(source, Iterable) and not isinstance(source, (str, bytes, Mapping)):
        docs = list(source)
        bad = next((d for d in docs if not isinstance(d, Document)), None)
        if bad is not None:
            raise ConfigurationError(
                f"source must be paths, a ray.data.Dataset or Documents; got a "
                f"{type(bad).__name__} in the sequence"
            )
        if not docs:
            return ray.data.from_arrow([batch_table([])])
        return ray.data.from_arrow(
            [batch_table(docs[i : i + rows]) for i in range(0, len(docs), rows)]
        )
    raise ConfigurationError(
        f"source must be paths, a ray.data.Dataset or Documents, got {type(source).__name__}"
    )


_CONTEXT = (
    "target_max_block_size",
    "actor_task_retry_on_errors",
    "enable_progress_bars",
    "raise_original_map_exception",
)


def _run(
    ray: Any,
    source: Any,
    files: list[Any] | None,
    index: IndexSpec,
    plan: _Resources,
    progress: bool | Progress,
    stop: Callable[[], bool] | None,
    on_skipped: Callable[[str], None] | None,
) -> IngestSummary:
    context = ray.data.DataContext.get_current()
    saved = {name: getattr(context, name) for name in _CONTEXT if hasattr(context, name)}
    # One row per batch and a block per row: blocks are what Ray hands out, so every batch
    # can go to any actor (the default 128 MiB would put a whole corpus in one block).
    context.target_max_block_size = 1
    context.actor_task_retry_on_errors = list(TRANSIENT_ERRORS)
    context.enable_progress_bars = False
    # A worker's error as itself (Ray's RayTaskError keeps it as `cause`), not in Ray Data's
    # UserCodeException, which loses it on the way to the driver.
    context.raise_original_map_exception = True
    bar = progress if isinstance(progress, Progress) else (Progress() if progress else None)
    summary = IngestSummary()
    jsonl_ids: dict[str, list[str] | None] = {}
    blocks = 0
    try:
        ds = _dataset(ray, source, files, index.batch_size, plan.task_cpus)
        light: dict[str, Any] = {"num_cpus": plan.task_cpus}
        if plan.task_cpus == 0:
            light["compute"] = ray.data.TaskPoolStrategy(size=2)
        ds = ds.map_batches(
            chunk_block,
            fn_kwargs={"spec": index},
            batch_size=None,
            batch_format="pyarrow",
            **light,
        )
        ds = ds.map_batches(
            EmbedWorker,
            fn_constructor_kwargs={"spec": index},
            compute=ray.data.ActorPoolStrategy(size=plan.actors, max_tasks_in_flight_per_actor=2),
            batch_size=None,
            batch_format="pyarrow",
            num_cpus=plan.cpus,
            num_gpus=plan.gpus,
        )
        rows = iter(ds.iter_rows())
        try:
            for row in rows:
                blocks += 1
                for name in SUMMARY_COUNTS:
                    setattr(summary, name, getattr(summary, name) + int(row[name]))
                for reason in row["failures"] or ():
                    summary.failed += 1
                    (on_skipped or logger.warning)(reason)
                if row["jsonl_ids"]:
                    jsonl_ids.update(json.loads(row["jsonl_ids"]))
                if bar is not None:
                    bar.update(
                        int(row["documents"]), points=int(row["points"]), tokens=int(row["tokens"])
                    )
                if stop is not None and stop():
                    summary.interrupted = True
                    break
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        if bar is not None and not isinstance(progress, Progress):
            bar.close()
    summary.extra.update(blocks=blocks, jsonl_ids=jsonl_ids)
    return summary

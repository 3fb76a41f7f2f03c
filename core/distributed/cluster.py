"""Ray itself, for :mod:`jina_v3.distributed`: connecting (a local instance listens on
127.0.0.1 only), the stores one process owns and the actor that owns one, and how many
embedding actors run and what each reserves."""

from __future__ import annotations

import os
from typing import Any

from jina_v3.distributed.workers import StoreOwner
from jina_v3.errors import MissingDependencyError

__all__ = [
    "LOOPBACK",
    "Resources",
    "absolute_uri",
    "init_ray",
    "is_embedded_store",
    "ray_module",
    "start_owner",
]

LOOPBACK = "127.0.0.1"
_EMBEDDED_SCHEMES = ("qdrant-edge", "milvus-lite", "qdrant")


def ray_module() -> Any:
    """The `ray` module (with `ray.data`), or MissingDependencyError naming the extra."""
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
    ray = ray_module()
    if ray.is_initialized():
        return False
    if local:
        # Ray reads the variable once, when it is first imported: in a process that imported
        # it earlier (a library, a test, the CLI quietening Ray's loggers), set what it read
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
        options = {"include_dashboard": False, "_node_ip_address": LOOPBACK, **options}
        ray.init(**options)
    else:
        ray.init(address=address, **options)
    return True


def is_embedded_store(uri: str) -> bool:
    """Whether a store URI names an engine that one process owns (a file or directory)."""
    scheme, _, target = uri.partition(":")
    return scheme in _EMBEDDED_SCHEMES and not target.startswith(("http://", "https://"))


def absolute_uri(uri: str) -> str:
    """An embedded store's path made absolute (workers may not share the driver's cwd)."""
    from jina_v3.connectors.uris import anchored

    return anchored(uri, os.getcwd())


class Resources:
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
    ) -> Resources:
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


def start_owner(ray: Any, uri: str, collection: str) -> Any:
    """The StoreOwner actor of an embedded store, on the driver's node."""
    options: dict[str, Any] = {"num_cpus": 0, "max_restarts": 3, "max_task_retries": 3}
    try:  # on the driver's node, where the file or directory is
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node = ray.get_runtime_context().get_node_id()
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
    except Exception:  # a ray:// client has no node of its own
        pass
    return ray.remote(StoreOwner).options(**options).remote(uri, collection)

"""Milvus Lite: one in-process server per data path, opened with the cause of a failure in
one line (the engine logs it with a traceback; pymilvus says only "Open local milvus
failed"), and released when the last store on that path closes (MilvusClient.close() keeps
the path locked otherwise)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jina_v3.errors import StoreError, StoreInUseError

logger = logging.getLogger("jina_v3.connectors.milvus")

_lock = threading.Lock()
_users: dict[str, int] = {}  # absolute data path -> stores of this process using it


def open_lite(pymilvus: Any, kwargs: dict[str, Any]) -> Any:
    """A Milvus Lite client for ``kwargs["uri"]`` (a FILE.db path).

    Raises:
        StoreInUseError: Another process holds the path.
        StoreError: The path is not a Milvus Lite store, or it cannot be opened (why).
    """
    path = kwargs["uri"]
    if os.path.exists(path) and not os.path.isdir(path):
        raise StoreError(
            f"{path} is not a Milvus Lite store (Milvus Lite keeps a folder named FILE.db; "
            "this is a file); choose another path in --store milvus-lite:./FILE.db"
        )
    with _kept_errors("milvus_lite") as causes:
        try:
            client = pymilvus.MilvusClient(**kwargs)
        except pymilvus.MilvusException as exc:
            if any(type(c).__name__ == "DataDirLockedError" for c in causes):
                raise StoreInUseError(path) from None
            cause = f" ({type(causes[-1]).__name__}: {causes[-1]})" if causes else ""
            raise StoreError(
                f"cannot open the Milvus Lite store {path}: {exc.message}{cause}"
            ) from None
    absolute = os.path.abspath(path)
    with _lock:
        _users[absolute] = _users.get(absolute, 0) + 1
    return client


def release_lite(path: str) -> None:
    """One store on the absolute data `path` is done; the last one frees the path."""
    with _lock:
        users = _users.get(path, 1) - 1
        if users > 0:
            _users[path] = users
            return
        _users.pop(path, None)
    try:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(path)
    except Exception:
        logger.debug("releasing Milvus Lite path %s failed", path, exc_info=True)


@contextmanager
def _kept_errors(name: str) -> Iterator[list[BaseException]]:
    """The exceptions the `name` logger logs meanwhile, kept instead of printed."""
    causes: list[BaseException] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and record.exc_info[1] is not None:
                causes.append(record.exc_info[1])

    engine_log = logging.getLogger(name)
    handler, propagate = Keep(), engine_log.propagate
    engine_log.addHandler(handler)
    engine_log.propagate = False
    try:
        yield causes
    finally:
        engine_log.removeHandler(handler)
        engine_log.propagate = propagate

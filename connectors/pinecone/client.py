"""The Pinecone store's client: the control plane and one index's data plane, every call a
method the store's flows name (``yield client("upsert", ...)``)."""

from __future__ import annotations

from typing import Any

from jina_v3.connectors.base.common import require


class PineconeClient:
    """Pinecone's control plane and one index's data plane, the latter resolved (by name,
    through the control plane) on first use. Data-plane calls act on the store's namespace
    unless another one is named (the keyword channel's statistics live beside it)."""

    def __init__(self, pc: Any, name: str | None, host: str | None, namespace: str) -> None:
        self.pc, self.name, self.host, self.namespace = pc, name, host, namespace
        self._index: Any | None = None

    @property
    def index(self) -> Any:
        if self._index is None:
            if self.host is None:
                self.host = self.pc.indexes.describe(self.name).host
            self._index = self.pc.index(host=self.host)
        return self._index

    def describe(self) -> Any | None:
        pinecone = require("pinecone", "pinecone", "pinecone")
        try:
            return self.pc.indexes.describe(self.name)
        except pinecone.NotFoundError:
            return None

    def create(self, **kwargs: Any) -> None:
        model = self.pc.indexes.create(name=self.name, **kwargs)
        self.host = self.host or model.host

    def delete_index(self, timeout: int) -> None:
        self.pc.indexes.delete(self.name, timeout=timeout)
        self.close()
        self.host = None

    def configure(self, tags: dict[str, str]) -> None:
        self.pc.indexes.configure(self.name, tags=tags)

    def name_of_host(self) -> str | None:
        wanted = bare_host(self.host or "")
        for model in self.pc.indexes.list():
            if bare_host(model.host or "") == wanted:
                return str(model.name)
        return None

    def stats(self) -> Any:
        return self.index.describe_index_stats()

    def upsert(self, vectors: list[dict[str, Any]], namespace: str | None = None) -> None:
        self.index.upsert(vectors=vectors, namespace=self._namespace(namespace))

    def query(self, *, include_metadata: bool = True, **kwargs: Any) -> Any:
        return self.index.query(
            namespace=self.namespace, include_metadata=include_metadata, **kwargs
        )

    def fetch(self, ids: list[str], namespace: str | None = None) -> Any:
        return self.index.fetch(ids=ids, namespace=self._namespace(namespace))

    def list_page(self, limit: int, token: str | None) -> Any:
        return self.index.list_paginated(
            namespace=self.namespace, limit=limit, pagination_token=token
        )

    def delete(self, namespace: str | None = None, **kwargs: Any) -> None:
        self.index.delete(namespace=self._namespace(namespace), **kwargs)

    def namespaces(self) -> list[str]:
        """The index's namespaces ("" is the default one)."""
        names = (self.index.describe_index_stats().namespaces or {}).keys()
        return sorted({"" if n == "__default__" else str(n) for n in names})

    def close(self) -> None:
        index, self._index = self._index, None
        if index is not None and hasattr(index, "close"):
            index.close()

    def _namespace(self, namespace: str | None) -> str:
        return self.namespace if namespace is None else namespace


def bare_host(host: str) -> str:
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    return host.rstrip("/")

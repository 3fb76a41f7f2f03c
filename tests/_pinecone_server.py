"""A Pinecone-API test server: a real HTTP server on 127.0.0.1 that the `pinecone` SDK talks to.

Pinecone has no emulator that runs here (Pinecone Local is Docker-only), so this implements the
parts of the REST API (version 2026-07, the one pinecone 10.x speaks) that the SDK and the
connector use, with Pinecone's documented behaviour:

- control plane on the server's own port: ``GET/POST /indexes``, ``GET/PATCH/DELETE
  /indexes/{name}`` (tags merge on PATCH, "" deletes a tag; deletion protection);
- data plane on one port per index (like Pinecone's per-index hosts): ``POST /vectors/upsert``,
  ``POST /query``, ``GET /vectors/fetch``, ``POST /vectors/update``, ``GET /vectors/list``,
  ``POST /vectors/delete`` (ids, deleteAll or filter), ``POST /describe_index_stats``, with
  namespaces;
- limits: 1000 vectors and 2 MB per upsert request, 40 KB of metadata per vector, metadata
  values str / number / bool / list of str (no null), top_k <= 10000, dimension checks; all
  answered with 400 like Pinecone;
- the ``Api-Key`` header (401 otherwise) and cosine scores in float32 like the service;
- sparse-dense records (``sparseValues`` {indices, values} beside ``values``; at most 1000
  non-zero values, distinct unsigned 32-bit indices) on ``dotproduct`` indexes only, returned
  by fetch and by query with ``includeValues``; a query's ``sparseVector`` adds its dot product
  with each record's sparse values to the dense one (a dense index needs a dense query vector);
- metadata filters with Pinecone's semantics (``jina_v3.filters.matches``: a list-valued
  field matches ``$eq``/``$in`` when any element does).

``fail_next(path, status, times)`` makes the next requests to a data-plane path fail, to test
interrupted ingestion. Use as a context manager or call ``start()`` / ``stop()``.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from jina_v3.errors import UnsupportedFilterError
from jina_v3.filters import FilterNode, matches, parse_filter

MAX_UPSERT_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_TOP_K = 10_000
MAX_DELETE_IDS = 1000
MAX_FETCH_IDS = 1000
MAX_TAGS = 20
MAX_SPARSE_VALUES = 1000
_SPARSE_METRIC = "dotproduct"


class _Error(Exception):
    def __init__(self, status: int, message: str, code: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


@dataclass
class _Vector:
    values: np.ndarray
    metadata: dict[str, Any] | None
    sparse: dict[int, float] | None = None

    def wire(self, vid: str, *, values: bool = True) -> dict[str, Any]:
        item: dict[str, Any] = {"id": vid}
        if values:
            item["values"] = self.values.tolist()
            if self.sparse:
                item["sparseValues"] = {
                    "indices": list(self.sparse),
                    "values": [float(v) for v in self.sparse.values()],
                }
        if self.metadata:
            item["metadata"] = self.metadata
        return item


@dataclass
class _Index:
    name: str
    dimension: int
    metric: str
    cloud: str
    region: str
    deletion_protection: str = "disabled"
    tags: dict[str, str] | None = None
    namespaces: dict[str, dict[str, _Vector]] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def model(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "status": {"ready": True, "state": "Ready"},
            "schema": {
                "fields": {
                    "_values": {
                        "type": "dense_vector",
                        "dimension": self.dimension,
                        "metric": self.metric,
                    }
                }
            },
            "deployment": {
                "deployment_type": "managed",
                "cloud": self.cloud,
                "region": self.region,
            },
            "deletion_protection": self.deletion_protection,
            "tags": dict(self.tags) if self.tags else None,
        }


class PineconeTestServer:
    """The control plane on one loopback port, each index's data plane on its own port.

    Args:
        api_key: The key clients must send (a random one by default).
    """

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key or f"pc-test-{secrets.token_hex(8)}"
        self._indexes: dict[str, _Index] = {}
        self._lock = threading.Lock()
        self._control: ThreadingHTTPServer | None = None
        self._faults: dict[str, list[int]] = {}
        #: (method, path, status, body bytes) of every request, and the last JSON body per path
        self.requests: list[tuple[str, str, int, int]] = []
        self.last_body: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The control-plane URL (``Pinecone(host=...)``)."""
        assert self._control is not None, "server not started"
        return f"http://127.0.0.1:{self._control.server_address[1]}"

    def start(self) -> PineconeTestServer:
        self._control = self._serve(None)
        return self

    def stop(self) -> None:
        servers = [self._control, *(i.server for i in self._indexes.values())]
        for server in servers:
            if server is not None:
                server.shutdown()
                server.server_close()
        self._control = None
        self._indexes.clear()

    def __enter__(self) -> PineconeTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, index: _Index | None) -> ThreadingHTTPServer:
        handler = type("Handler", (_Handler,), {"app": self, "index": index})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        return server

    # -- test hooks --------------------------------------------------------------------------

    def fail_next(self, path: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` data-plane requests to `path` with `status`."""
        with self._lock:
            self._faults.setdefault(path, []).extend([status] * times)

    def _fault(self, path: str) -> int | None:
        with self._lock:
            queue = self._faults.get(path)
            return queue.pop(0) if queue else None

    def vectors(self, index: str, namespace: str = "") -> dict[str, tuple[list[float], dict]]:
        """What an index namespace holds: {id: (values, metadata)} (for assertions)."""
        idx = self._indexes[index]
        with idx.lock:
            return {
                vid: (v.values.tolist(), dict(v.metadata or {}))
                for vid, v in idx.namespaces.get(namespace, {}).items()
            }

    # -- control plane -----------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["indexes"] and method == "GET":
            with self._lock:
                return 200, {"indexes": [i.model() for i in self._indexes.values()]}
        if parts == ["indexes"] and method == "POST":
            return self._create(body)
        if len(parts) == 2 and parts[0] == "indexes":
            with self._lock:
                index = self._indexes.get(parts[1])
            if index is None:
                raise _Error(404, f"Resource {parts[1]} not found", "NOT_FOUND")
            if method == "GET":
                return 200, index.model()
            if method == "DELETE":
                if index.deletion_protection == "enabled":
                    raise _Error(
                        403,
                        f"Deletion protection is enabled for index {index.name!r}",
                        "FORBIDDEN",
                    )
                with self._lock:
                    self._indexes.pop(index.name, None)
                assert index.server is not None
                server = index.server
                threading.Thread(target=lambda: (server.shutdown(), server.server_close())).start()
                return 202, None
            if method == "PATCH":
                return self._configure(index, body)
        raise _Error(404, f"No route {method} {path}", "NOT_FOUND")

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _Error(400, "Request body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not name or len(name) > 45:
            raise _Error(400, "Index name must be 1-45 characters")
        if not all(c.islower() or c.isdigit() or c == "-" for c in name):
            raise _Error(400, "Index name must consist of lower case alphanumerics or '-'")
        dimension, metric = self._vector_field(body)
        deployment = body.get("deployment") or {}
        spec = (body.get("spec") or {}).get("serverless") or {}  # the pre-2026 shape
        tags = body.get("tags")
        _check_tags(tags)
        with self._lock:
            if name in self._indexes:
                raise _Error(409, f"Resource {name} already exists", "ALREADY_EXISTS")
            index = _Index(
                name=name,
                dimension=dimension,
                metric=metric,
                cloud=deployment.get("cloud") or spec.get("cloud") or "aws",
                region=deployment.get("region") or spec.get("region") or "us-east-1",
                deletion_protection=body.get("deletion_protection") or "disabled",
                tags=dict(tags) if tags else None,
            )
            index.server = self._serve(index)
            self._indexes[name] = index
        return 201, index.model()

    @staticmethod
    def _vector_field(body: Mapping[str, Any]) -> tuple[int, str]:
        fields = ((body.get("schema") or {}).get("fields")) or {}
        dense = [
            f for f in fields.values() if isinstance(f, dict) and f.get("type") == "dense_vector"
        ]
        if fields and len(dense) != 1:
            raise _Error(400, "This test server supports indexes with one dense_vector field")
        raw = dense[0] if dense else body
        dimension, metric = raw.get("dimension"), raw.get("metric") or "cosine"
        if (
            not isinstance(dimension, int)
            or isinstance(dimension, bool)
            or not 1 <= dimension <= 20_000
        ):
            raise _Error(400, "dimension must be an integer between 1 and 20000")
        if metric not in ("cosine", "dotproduct", "euclidean"):
            raise _Error(400, f"Invalid metric {metric!r}")
        return dimension, metric

    def _configure(self, index: _Index, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body:
            raise _Error(400, "At least one of deletion_protection, tags, ... is required")
        if "tags" in body and body["tags"] is not None:
            _check_tags(body["tags"])
            merged = dict(index.tags or {})
            for key, value in body["tags"].items():
                if value == "":
                    merged.pop(key, None)
                else:
                    merged[key] = value
            _check_tags(merged)
            index.tags = merged or None
        if body.get("deletion_protection") is not None:
            if body["deletion_protection"] not in ("enabled", "disabled"):
                raise _Error(400, "deletion_protection must be 'enabled' or 'disabled'")
            index.deletion_protection = body["deletion_protection"]
        return 200, index.model()

    # -- data plane --------------------------------------------------------------------------

    def data(
        self,
        index: _Index,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        size: int,
    ) -> tuple[int, Any]:
        route = (method, path.rstrip("/"))
        if route == ("POST", "/vectors/upsert"):
            return 200, self._upsert(index, body, size)
        if route == ("POST", "/query"):
            return 200, self._query(index, body)
        if route == ("GET", "/vectors/fetch"):
            return 200, self._fetch(index, query)
        if route == ("POST", "/vectors/update"):
            return 200, self._update(index, body)
        if route == ("GET", "/vectors/list"):
            return 200, self._list(index, query)
        if route == ("POST", "/vectors/delete"):
            return 200, self._delete(index, body)
        if route == ("POST", "/describe_index_stats"):
            return 200, self._stats(index, body)
        raise _Error(404, f"No route {method} {path}", "NOT_FOUND")

    def _upsert(self, index: _Index, body: Any, size: int) -> dict[str, Any]:
        if size > MAX_REQUEST_BYTES:
            raise _Error(
                400,
                f"Request size {size / 1e6:.1f}MB exceeds the maximum supported size of 2MB",
            )
        vectors = _object(body).get("vectors")
        if not isinstance(vectors, list) or not vectors:
            raise _Error(400, "vectors must be a non-empty list")
        if len(vectors) > MAX_UPSERT_VECTORS:
            raise _Error(
                400,
                f"Upsert request contains {len(vectors)} vectors; the maximum is "
                f"{MAX_UPSERT_VECTORS} per request",
            )
        parsed = [self._parse_vector(index, v) for v in vectors]  # all-or-nothing
        namespace = body.get("namespace") or ""
        with index.lock:
            space = index.namespaces.setdefault(namespace, {})
            for vid, vector in parsed:
                space[vid] = vector
        return {"upsertedCount": len(parsed)}

    @staticmethod
    def _parse_vector(index: _Index, raw: Any) -> tuple[str, _Vector]:
        if not isinstance(raw, dict):
            raise _Error(400, "each vector must be an object")
        vid = raw.get("id")
        if not isinstance(vid, str) or not vid or len(vid.encode()) > 512:
            raise _Error(400, "Vector id must be a non-empty string of at most 512 bytes")
        values = raw.get("values")
        if not isinstance(values, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in values
        ):
            raise _Error(400, f"Vector {vid!r}: values must be a list of numbers")
        if len(values) != index.dimension:
            raise _Error(
                400,
                f"Vector dimension {len(values)} does not match the dimension of the index "
                f"{index.dimension}",
            )
        metadata = raw.get("metadata")
        if metadata is not None:
            _check_metadata(vid, metadata)
        sparse = _sparse(index, raw.get("sparseValues"), f"Vector {vid!r}")
        return vid, _Vector(np.asarray(values, dtype=np.float32), metadata, sparse)

    def _query(self, index: _Index, body: Any) -> dict[str, Any]:
        body = _object(body)
        top_k = body.get("topK")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
            raise _Error(400, f"topK must be an integer between 1 and {MAX_TOP_K}")
        namespace = body.get("namespace") or ""
        node = _filter(body.get("filter"))
        with index.lock:
            space = dict(index.namespaces.get(namespace, {}))
        if body.get("vector") is not None:
            query = np.asarray(body["vector"], dtype=np.float32)
        elif body.get("id") is not None:
            if body["id"] not in space:
                return {"matches": [], "namespace": namespace, "usage": {"readUnits": 1}}
            query = space[body["id"]].values
        else:
            raise _Error(400, "One of vector or id is required")
        if query.shape != (index.dimension,):
            raise _Error(
                400,
                f"Query vector dimension {query.size} does not match the dimension of the "
                f"index {index.dimension}",
            )
        sparse = _sparse(index, body.get("sparseVector"), "Query")
        items = [(vid, v) for vid, v in space.items() if node is None or _matches(node, v.metadata)]
        if not items:
            return {"matches": [], "namespace": namespace, "usage": {"readUnits": 1}}
        matrix = np.stack([v.values for _, v in items])
        scores = _scores(index.metric, matrix, query)
        if sparse:
            scores = scores + np.array(
                [
                    sum(w * (v.sparse or {}).get(i, 0.0) for i, w in sparse.items())
                    for _, v in items
                ],
                dtype=np.float32,
            )
        order = np.argsort(-scores, kind="stable")[:top_k]
        out = []
        for i in order:
            vid, vector = items[i]
            score = -scores[i] if index.metric == "euclidean" else scores[i]  # a distance
            match = vector.wire(vid, values=bool(body.get("includeValues")))
            if not body.get("includeMetadata"):
                match.pop("metadata", None)
            out.append({**match, "score": float(score)})
        return {"matches": out, "namespace": namespace, "usage": {"readUnits": 1 + len(out) // 10}}

    def _fetch(self, index: _Index, query: dict[str, list[str]]) -> dict[str, Any]:
        ids = query.get("ids", [])
        if not ids or len(ids) > MAX_FETCH_IDS:
            raise _Error(400, f"ids must hold 1 to {MAX_FETCH_IDS} ids")
        namespace = (query.get("namespace") or [""])[0]
        with index.lock:
            space = index.namespaces.get(namespace, {})
            found = {vid: space[vid] for vid in ids if vid in space}
        vectors = {vid: v.wire(vid) for vid, v in found.items()}
        return {"vectors": vectors, "namespace": namespace, "usage": {"readUnits": 1}}

    def _update(self, index: _Index, body: Any) -> dict[str, Any]:
        body = _object(body)
        vid, namespace = body.get("id"), body.get("namespace") or ""
        if not isinstance(vid, str):
            raise _Error(400, "id is required")
        with index.lock:
            vector = index.namespaces.get(namespace, {}).get(vid)
            if vector is None:
                raise _Error(404, f"Vector {vid!r} not found", "NOT_FOUND")
            if body.get("values") is not None:
                values = body["values"]
                if len(values) != index.dimension:
                    raise _Error(
                        400,
                        f"Vector dimension {len(values)} does not match the dimension of the "
                        f"index {index.dimension}",
                    )
                vector.values = np.asarray(values, dtype=np.float32)
            if body.get("sparseValues") is not None:
                vector.sparse = _sparse(index, body["sparseValues"], f"Vector {vid!r}")
            if body.get("setMetadata") is not None:
                merged = {**(vector.metadata or {}), **body["setMetadata"]}
                _check_metadata(vid, merged)
                vector.metadata = merged
        return {"matchedRecords": 1}

    def _list(self, index: _Index, query: dict[str, list[str]]) -> dict[str, Any]:
        namespace = (query.get("namespace") or [""])[0]
        prefix = (query.get("prefix") or [""])[0]
        limit = int((query.get("limit") or ["100"])[0])
        if not 1 <= limit <= 100:
            raise _Error(400, "limit must be between 1 and 100")
        token = (query.get("paginationToken") or [""])[0]
        with index.lock:
            ids = sorted(v for v in index.namespaces.get(namespace, {}) if v.startswith(prefix))
        ids = [v for v in ids if v > token] if token else ids
        page = ids[:limit]
        out: dict[str, Any] = {
            "vectors": [{"id": v} for v in page],
            "namespace": namespace,
            "usage": {"readUnits": 1},
        }
        if len(ids) > limit:
            out["pagination"] = {"next": page[-1]}
        return out

    def _delete(self, index: _Index, body: Any) -> dict[str, Any]:
        body = _object(body)
        namespace = body.get("namespace") or ""
        ids, delete_all, raw_filter = body.get("ids"), body.get("deleteAll"), body.get("filter")
        if (
            sum(x is not None and x is not False for x in (ids, raw_filter, delete_all or None))
            != 1
        ):
            raise _Error(400, "Exactly one of ids, deleteAll or filter is required")
        if ids is not None and (not isinstance(ids, list) or len(ids) > MAX_DELETE_IDS):
            raise _Error(400, f"ids must be a list of at most {MAX_DELETE_IDS} ids")
        node = _filter(raw_filter) if raw_filter is not None else None
        with index.lock:
            space = index.namespaces.get(namespace, {})
            if delete_all:
                space.clear()
            elif ids is not None:
                for vid in ids:
                    space.pop(vid, None)
            else:
                assert node is not None
                for vid in [v for v, vec in space.items() if _matches(node, vec.metadata)]:
                    del space[vid]
        return {}

    def _stats(self, index: _Index, body: Any) -> dict[str, Any]:
        node = _filter(_object(body or {}).get("filter"))
        with index.lock:
            counts = {
                ns: sum(1 for v in space.values() if node is None or _matches(node, v.metadata))
                for ns, space in index.namespaces.items()
                if space
            }
        return {
            "namespaces": {ns: {"vectorCount": n} for ns, n in counts.items()},
            "dimension": index.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": index.metric,
            "vectorType": "dense",
        }


class _Handler(BaseHTTPRequestHandler):
    app: PineconeTestServer
    index: _Index | None
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if self.headers.get("Api-Key") != self.app.api_key:
                raise _Error(401, "Invalid API Key", "UNAUTHENTICATED")
            body = json.loads(raw) if raw else None
            self.app.last_body[url.path] = body
            if self.index is None:
                status, payload = self.app.control(method, url.path, body)
            else:
                fault = self.app._fault(url.path)
                if fault is not None:
                    raise _Error(fault, f"Injected failure {fault}", "UNAVAILABLE")
                query = parse_qs(url.query, keep_blank_values=True)
                status, payload = self.app.data(self.index, method, url.path, query, body, length)
        except _Error as exc:
            status, payload = exc.status, _error_body(exc, control=self.index is None)
        except json.JSONDecodeError as exc:
            status, payload = 400, {"code": 3, "message": f"Invalid JSON: {exc}", "details": []}
        self.app.requests.append((method, url.path, status, length))
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error_body(exc: _Error, *, control: bool) -> dict[str, Any]:
    if control:  # the control plane's error envelope
        return {"error": {"code": exc.code, "message": exc.message}, "status": exc.status}
    grpc = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8}.get(exc.status, 13)
    return {"code": grpc, "message": exc.message, "details": []}


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Error(400, "Request body must be a JSON object")
    return body


def _check_tags(tags: Any) -> None:
    if tags is None:
        return
    if not isinstance(tags, dict) or len(tags) > MAX_TAGS:
        raise _Error(400, f"tags must be an object of at most {MAX_TAGS} entries")
    for key, value in tags.items():
        if not (1 <= len(key) <= 80) or not all(
            c.isascii() and (c.isalnum() or c in "_-") for c in key
        ):
            raise _Error(400, f"Invalid tag key {key!r}")
        if (
            not isinstance(value, str)
            or len(value) > 120
            or not (value.isascii() and value.isprintable())
        ):
            raise _Error(400, f"Invalid tag value for key {key!r}")


def _check_metadata(vid: str, metadata: Any) -> None:
    if not isinstance(metadata, dict):
        raise _Error(400, f"Vector {vid!r}: metadata must be an object")
    for key, value in metadata.items():
        ok = (
            isinstance(value, (str, bool))
            or (isinstance(value, (int, float)) and np.isfinite(value))
            or (isinstance(value, list) and all(isinstance(x, str) for x in value))
        )
        if not ok:
            raise _Error(
                400,
                f"Vector {vid!r}: metadata value of {key!r} must be a string, number, boolean or "
                f"list of strings, got {json.dumps(value)[:60]}",
            )
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise _Error(
            400,
            f"Metadata size is {size} bytes, which exceeds the limit of {MAX_METADATA_BYTES} "
            "bytes per vector",
        )


def _sparse(index: _Index, raw: Any, where: str) -> dict[int, float] | None:
    """Pinecone's sparse values ({indices, values}), checked as the service checks them."""
    if raw is None:
        return None
    if index.metric != _SPARSE_METRIC:
        raise _Error(
            400,
            "Index configuration does not support sparse values - only indexes that are "
            f"sparse or using {_SPARSE_METRIC} are supported",
        )
    indices, values = (raw.get("indices"), raw.get("values")) if isinstance(raw, dict) else (0, 0)
    if not isinstance(indices, list) or not isinstance(values, list) or len(indices) != len(values):
        raise _Error(400, f"{where}: sparse indices and values must be lists of the same length")
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 2**32 for i in indices):
        raise _Error(400, f"{where}: sparse indices must be unsigned 32-bit integers")
    if len(set(indices)) != len(indices):
        raise _Error(400, f"{where}: sparse indices must be unique")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise _Error(400, f"{where}: sparse values must be numbers")
    if len(indices) > MAX_SPARSE_VALUES:
        raise _Error(
            400,
            f"{where}: sparse vector has {len(indices)} non-zero values; the maximum is "
            f"{MAX_SPARSE_VALUES}",
        )
    return {i: float(np.float32(v)) for i, v in zip(indices, values, strict=True)}


def _filter(raw: Any) -> FilterNode | None:
    if raw is None:
        return None
    try:
        return parse_filter(raw)
    except UnsupportedFilterError as exc:
        raise _Error(400, f"Invalid filter: {exc}") from exc


def _matches(node: FilterNode, metadata: Mapping[str, Any] | None) -> bool:
    # jina_v3.filters.matches has Pinecone's semantics (a list matches when any element does)
    return matches(node, metadata or {})


def _scores(metric: str, matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    if metric == "dotproduct":
        return matrix @ query
    if metric == "euclidean":
        return -np.sum((matrix - query) ** 2, axis=1)  # Pinecone ranks by distance
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
    return (matrix @ query) / np.maximum(norms, np.float32(1e-30))

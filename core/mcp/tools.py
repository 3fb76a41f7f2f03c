"""The tools' calls: arguments checked, the index and the store called, results as text and
as structured content, and every failure one line (the CLI's) in an ``isError`` result.

Each tool is built on what the CLI uses: :class:`~jina_v3.AsyncVectorIndex` for ``search``,
``add`` and ``delete`` by id, ``jina-v3 ls``'s :func:`~jina_v3.cli.collection.documents` for
``list_documents``, ``jina-v3 delete --source``'s selector, and the CLI's
:func:`~jina_v3.cli.main.describe` for the error lines.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from jina_v3.cli.main import describe
from jina_v3.errors import ConfigurationError, JinaV3Error, StoreError, unknown_arguments
from jina_v3.index.store import Document
from jina_v3.mcp.schemas import (
    DEFAULT_LIST,
    MAX_K,
    MAX_LIST,
    MODES,
    WRITING_TOOLS,
    ToolSpec,
    tool_specs,
)

__all__ = ["CollectionTools"]

logger = logging.getLogger("jina_v3.mcp")

#: The reader's field of `jina-v3 index` that an added document may not set (``source`` it may).
_READER_FIELDS = frozenset({"source_folders"})


class CollectionTools:
    """The five tools over one collection (``add`` and ``delete`` left out when read-only).

    Args:
        index: An :class:`~jina_v3.AsyncVectorIndex` on the collection (its signature checked).
        store: The index's store, for the calls the index has no verb for (``ls``'s scan, a
            delete by source, the count); a :class:`~jina_v3.mcp.shared.SerialStore`.
        store_uri: The store's URI, as ``info`` reports it (user and password left out).
        read_only: Offer only ``search``, ``list_documents`` and ``info``.
        default_k: ``search``'s default ``k`` (the ``k`` setting).
        chunk_tokens: The chunk size ``add`` uses (for its description).
    """

    def __init__(
        self,
        index: Any,
        store: Any,
        *,
        store_uri: str,
        read_only: bool,
        default_k: int = 5,
        chunk_tokens: int = 256,
    ) -> None:
        self.index = index
        self.store = store
        self.collection = str(store.collection)
        self.store_uri = re.sub(r"//[^/@]*@", "//", store_uri)  # never a password in a reply
        self.read_only = read_only
        self.hybrid = index.signature.keywords is not None
        # as `jina-v3 search`: hybrid where the collection has the keyword channel
        self.default_mode = "hybrid" if self.hybrid else "dense"
        self.default_k = default_k
        specs = tool_specs(
            self.collection,
            default_k=self.default_k,
            default_mode=self.default_mode,
            hybrid=self.hybrid,
            chunk_tokens=chunk_tokens,
        )
        self.specs = {s.name: s for s in specs if not (read_only and s.name in WRITING_TOOLS)}

    def listed(self) -> list[Any]:
        """The tools offered, as the SDK's ``Tool`` objects."""
        from mcp_types import Tool, ToolAnnotations

        return [
            Tool(
                name=spec.name,
                title=spec.title,
                description=spec.description,
                input_schema=spec.input_schema,
                output_schema=spec.output_schema,
                annotations=ToolAnnotations(
                    title=spec.title,
                    read_only_hint=spec.read_only,
                    destructive_hint=spec.destructive,
                    idempotent_hint=True,
                    open_world_hint=False,
                ),
            )
            for spec in self.specs.values()
        ]

    async def call(self, name: str, arguments: Mapping[str, Any] | None) -> Any:
        """One tool call's result (a ``CallToolResult``); never raises for the caller's or the
        store's errors: they are the result, with ``isError`` and one line."""
        from mcp_types import CallToolResult, TextContent

        spec = self.specs.get(name)
        try:
            if spec is None:
                raise self._not_offered(name)
            args = _checked(spec, arguments)
            text, structured = await getattr(self, f"_{name}")(args)
        except Exception as exc:
            line = " ".join(self._error_line(name, spec, exc).split())
            return CallToolResult(content=[TextContent(text=line)], is_error=True)
        return CallToolResult(content=[TextContent(text=text)], structured_content=structured)

    def _not_offered(self, name: str) -> ConfigurationError:
        if name in WRITING_TOOLS:
            return ConfigurationError(
                f"the {name} tool is not offered: this server is read-only (started with "
                "--read-only, or with --http and no --api-key-env)"
            )
        return ConfigurationError(f"no tool {name!r}; the tools are {', '.join(self.specs)}")

    def _error_line(self, name: str, spec: ToolSpec | None, exc: Exception) -> str:
        if isinstance(exc, JinaV3Error):
            return f"{name}: {describe(exc, spec.cli if spec else '')}"
        logger.error("the %s tool failed", name, exc_info=exc)
        detail = " ".join(str(exc).split()) or "no details"
        return f"{name}: {type(exc).__name__}: {detail} (the server's log has the traceback)"

    # -- the tools ----------------------------------------------------------------------------

    async def _search(self, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from jina_v3.cli.format import hits_json

        query = _string(args, "query", required=True)
        k = _integer(args, "k", self.default_k, 1, MAX_K)
        where = _filter(args)
        mode = _choice(args, "mode", MODES, self.default_mode)
        hits = await self.index.search(query, k=k, filter=where, mode=mode)
        hits = sorted(hits, key=lambda h: (-h.score, h.id))  # the order `jina-v3 search` prints
        rows = [_hit_row(row) for row in hits_json(hits)]
        return _hits_text(query, mode, rows), {"query": query, "mode": mode, "hits": rows}

    async def _add(self, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        documents = _documents(args)
        summary = await self.index.ingest(documents)
        if summary.refused:
            raise StoreError(
                f"{summary.refused} of the {len(documents)} documents could not be stored (over "
                "the store's limits on metadata or id size; the server's log names each); the "
                f"others were written: {summary}"
            )
        result = {
            "ids": [d.id for d in documents],
            "indexed": summary.indexed,
            "replaced": summary.replaced,
            "unchanged": summary.unchanged,
            "chunks": summary.points,
        }
        return json.dumps(result, ensure_ascii=False), result

    async def _list_documents(self, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from jina_v3.cli.collection import documents

        glob = _string(args, "source")
        where = _filter(args)
        limit = _integer(args, "limit", DEFAULT_LIST, 1, MAX_LIST)
        found = await asyncio.to_thread(documents, self.store, source=glob, filter=where)
        rows = [dict(vars(doc)) for doc in found[:limit]]
        result = {"documents": rows, "total": len(found), "truncated": len(found) > limit}
        return json.dumps(result, ensure_ascii=False), result

    async def _delete(self, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from jina_v3.connectors.base.common import one_of

        which = one_of(id=args.get("id"), source=args.get("source"))
        before = await asyncio.to_thread(self.store.count)
        if which == "id":
            document_id = _document_id(args["id"], "id")
            await self.index.delete([document_id])
            what = f"id {document_id!r}"
        else:
            source = _string(args, "source", required=True)
            await asyncio.to_thread(self.store.delete, filter=_source_selector(source))
            what = f"source {source!r}"
        deleted = before - await asyncio.to_thread(self.store.count)
        if deleted <= 0:
            raise ConfigurationError(
                f"{what} matched no document in {self.collection!r}; list_documents shows "
                "the stored ids and sources"
            )
        result = {"deleted_chunks": deleted}
        return json.dumps(result), result

    async def _info(self, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        signature = await asyncio.to_thread(self.store.read_signature)
        points = await asyncio.to_thread(self.store.count)
        result = {
            "collection": self.collection,
            "store": self.store_uri,
            "model": self.index.signature.model,
            "signature": None if signature is None else signature.to_dict(),
            "points": points,
            "hybrid": self.hybrid,
            "read_only": self.read_only,
            "tools": list(self.specs),
            "defaults": {"k": self.default_k, "mode": self.default_mode},
        }
        return json.dumps(result, ensure_ascii=False, indent=2), result


# -- arguments ---------------------------------------------------------------------------------


def _checked(spec: ToolSpec, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """The arguments, with nulls as absent; a name the tool does not take names the nearest."""
    args = {k: v for k, v in (arguments or {}).items() if v is not None}
    known = spec.input_schema["properties"]
    unknown = set(args) - set(known)
    if unknown:
        raise unknown_arguments(f"the {spec.name} tool", unknown, known)
    return args


def _string(args: dict[str, Any], name: str, *, required: bool = False) -> Any:
    value = args.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        got = "nothing" if value is None else repr(value)
        raise ConfigurationError(f"{name} must be a non-empty string, got {got}")
    return value


def _integer(args: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one number type: 5.0 is 5
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _choice(args: dict[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = args.get(name, default)
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _filter(args: dict[str, Any]) -> Any:
    """The filter, checked against the dialect before any work (as ``--filter`` is)."""
    from jina_v3.index.filters import parse_filter

    value = args.get("filter")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f'filter must be an object, got {type(value).__name__}; example: {{"lang": "en"}}'
        )
    parse_filter(value)  # an UnsupportedFilterError names the operator or the depth
    return value


def _document_id(value: Any, name: str) -> str:
    """An id as the index stores it: a string, or an integer as its decimal string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(
            f"{name} must be a non-empty string (or an integer), got {value!r}"
        )
    return value


def _documents(args: dict[str, Any]) -> list[Document]:
    """The documents of an ``add`` call: one text or several, with their metadata and ids."""
    from jina_v3.connectors.base.common import one_of

    single = one_of(text=args.get("text"), texts=args.get("texts")) == "text"
    if single:
        texts = [_string(args, "text", required=True)]
    else:
        texts = args["texts"]
        if not isinstance(texts, list) or not texts:
            raise ConfigurationError("texts must be a non-empty list of strings")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ConfigurationError(f"texts[{i}] must be a non-empty string, got {text!r}")
    metadata = _per_text(args.get("metadata"), "metadata", len(texts), single, dict)
    ids = _per_text(args.get("id"), "id", len(texts), single, None)
    documents: list[Document] = []
    first: dict[str, int] = {}  # id -> the text that has it
    for i, text in enumerate(texts):
        doc_id = _default_id(text) if ids[i] is None else _document_id(ids[i], "id")
        if doc_id in first:
            raise ConfigurationError(
                f"texts[{first[doc_id]}] and texts[{i}] have the same id {doc_id!r}; give each "
                "text its own id"
            )
        first[doc_id] = i
        fields = dict(metadata[i] or {})
        _check_fields(fields)
        documents.append(Document(doc_id, text, fields))  # refuses reserved keys, bad values
    return documents


def _per_text(value: Any, name: str, n: int, single: bool, kind: type | None) -> list[Any]:
    """One value per text: as given (text), one for all or one each (texts)."""
    if value is None:
        return [None] * n
    if isinstance(value, list) and not single:
        if len(value) != n:
            raise ConfigurationError(
                f"{name} has {len(value)} entries for {n} texts; give one per text"
                + (", or one object for all" if kind is dict else "")
            )
        values = value
    elif isinstance(value, list):
        raise ConfigurationError(
            f"{name} must be a single value with text (a list goes with texts)"
        )
    elif kind is dict:
        values = [value] * n
    elif not single:
        raise ConfigurationError(f"{name} must be a list with one id per text, got {value!r}")
    else:
        values = [value]
    for i, item in enumerate(values):
        if kind is dict and not isinstance(item, dict):
            where = name if single or not isinstance(value, list) else f"{name}[{i}]"
            raise ConfigurationError(f"{where} must be an object, got {type(item).__name__}")
    return values


def _check_fields(fields: dict[str, Any]) -> None:
    reader = sorted(_READER_FIELDS & set(fields))
    if reader:
        raise ConfigurationError(
            f"metadata {reader[0]!r} is set by `jina-v3 index` for files; leave it out (an "
            "added document names its origin with 'source')"
        )
    if "source" in fields and (not isinstance(fields["source"], str) or not fields["source"]):
        raise ConfigurationError(
            f"metadata 'source' must be a non-empty string, got {fields['source']!r}"
        )


def _default_id(text: str) -> str:
    """The id of a text added without one: derived from the text, so it is stored once."""
    return "mcp-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _source_selector(source: str) -> dict[str, Any]:
    """The documents of a source or folder: as stored (what list_documents shows), or as a
    path from the server's working folder (`jina-v3 delete --source`'s selector)."""
    from jina_v3.cli.by_source import source_filter
    from jina_v3.index.sources import FOLDERS_KEY, SOURCE_KEY

    selector = source_filter(source)
    selector["$or"] += [{SOURCE_KEY: source}, {FOLDERS_KEY: source}]
    return selector


# -- results ------------------------------------------------------------------------------------


def _hit_row(row: dict[str, Any]) -> dict[str, Any]:
    """A hit of ``jina-v3 search --json`` with its heading path beside it."""
    headings = row["metadata"].get("headings")
    source = row["source"]
    return {
        **row,
        "source": None if source is None else str(source),
        "headings": None if headings is None else str(headings),
    }


def _hits_text(query: str, mode: str, rows: list[dict[str, Any]]) -> str:
    """The hits as an agent reads them: rank, score, where from, the heading path, the text."""
    if not rows:
        return f"No passages found for {query!r} ({mode} search)."
    passages = "1 passage" if len(rows) == 1 else f"{len(rows)} passages"
    lines = [f"{passages} for {query!r} ({mode} search), best first:"]
    for row in rows:
        where = row["source"] or row["document_id"]
        if row["source"] and row["document_id"] != row["source"]:
            where += f" (document {row['document_id']})"
        if row["chunk_index"] is not None:
            where += f", chunk {row['chunk_index']}"
        heading = f"\n{row['headings']}" if row["headings"] else ""
        lines.append(
            f"\n[{row['rank']}] score {row['score']:.4f} · {where}{heading}\n{row['text']}"
        )
    return "\n".join(lines)

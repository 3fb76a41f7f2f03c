"""The tools as agents see them: names, descriptions and JSON schemas (pure data).

The names and arguments are a contract (agents' prompts and client configs name them):
``search(query, k, filter, mode)``, ``add(text | texts, metadata, id)``,
``list_documents(source, filter, limit)``, ``delete(id | source)`` and ``info()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_K", "MAX_LIST", "MODES", "TOOL_NAMES", "WRITING_TOOLS", "ToolSpec", "tool_specs"]

MODES = ("dense", "keyword", "hybrid")
MAX_K = 100  # hits one search returns at most: an agent's context is the limit
DEFAULT_LIST = 100
MAX_LIST = 10_000
TOOL_NAMES = ("search", "add", "list_documents", "delete", "info")
WRITING_TOOLS = frozenset({"add", "delete"})

_FILTER = (
    'Metadata filter, the project\'s dialect (Mongo-style): {"lang": "en"}, '
    '{"year": {"$gte": 2020}}, {"$or": [{"lang": "en"}, {"lang": "de"}]}. '
    "Operators: $eq $ne $gt $gte $lt $lte $in $nin $and $or; a list-valued field matches when "
    "any element does."
)
_ID = {"type": ["string", "integer"]}  # an integer id is its decimal string, as in .jsonl


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what an agent reads, and the CLI command whose one-line errors it shares."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    cli: str  # the command whose advice its errors carry (search, index, ls, delete, info)
    read_only: bool
    destructive: bool = False


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _arguments(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {**_object(properties, required), "additionalProperties": False}


_HIT = _object(
    {
        "rank": {"type": "integer"},
        "id": {"type": "string", "description": "the point (chunk) id"},
        "score": {"type": "number"},
        "source": {"type": ["string", "null"], "description": "the file or origin"},
        "document_id": {"type": "string"},
        "chunk_index": {"type": ["integer", "null"]},
        "headings": {"type": ["string", "null"], "description": "the heading path"},
        "text": {"type": "string", "description": "the chunk's text"},
        "metadata": {"type": "object"},
    },
    ("rank", "id", "score", "source", "document_id", "chunk_index", "headings", "text"),
)


def tool_specs(
    collection: str, *, default_k: int, default_mode: str, hybrid: bool, chunk_tokens: int
) -> list[ToolSpec]:
    """The five tools for one collection (descriptions name it and its defaults)."""
    channel = (
        "This collection has the keyword channel: the default mode is hybrid."
        if hybrid
        else "This collection has no keyword channel: only mode dense works."
    )
    search = ToolSpec(
        "search",
        "Search the collection",
        f"Search the '{collection}' collection for the passages that best answer a question "
        "or contain given terms. Returns the best k passages in rank order, each with its "
        "source, the heading path it sits under, the chunk's text, a score and its metadata. "
        "The query is embedded with jina-embeddings-v3's retrieval.query task, so write it as "
        "a question or a description of what you need, in any language. Modes: dense "
        "(meaning; score: cosine), keyword (exact terms such as codes, names or error "
        "messages; score: BM25, 0 up), hybrid (both, fused; score in (0, 1]). "
        f"{channel} Use filter to restrict by metadata (list_documents shows what exists).",
        _arguments(
            {
                "query": {"type": "string", "minLength": 1, "description": "what to find"},
                "k": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_K,
                    "default": default_k,
                    "description": "number of passages to return",
                },
                "filter": {"type": "object", "description": _FILTER},
                "mode": {
                    "type": "string",
                    "enum": list(MODES),
                    "default": default_mode,
                    "description": "dense, keyword or hybrid",
                },
            },
            ("query",),
        ),
        _object(
            {
                "query": {"type": "string"},
                "mode": {"type": "string"},
                "hits": {"type": "array", "items": _HIT},
            },
            ("query", "mode", "hits"),
        ),
        cli="search",
        read_only=True,
    )
    add = ToolSpec(
        "add",
        "Add documents",
        f"Add one document (text) or several (texts) to the '{collection}' collection, so later "
        "searches find them. Each is split into chunks of up to "
        f"{chunk_tokens} tokens as `jina-v3 index` splits files (Markdown headings kept) and "
        "embedded with the retrieval.passage task. Adding under an id that exists replaces "
        "that document; without id, the id is derived from the text (adding the same text "
        "again stores it once). Returns the ids, and what was indexed, replaced or unchanged.",
        _arguments(
            {
                "text": {"type": "string", "minLength": 1, "description": "one document's text"},
                "texts": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                    "description": "several documents' texts (instead of text)",
                },
                "metadata": {
                    "anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                    "description": "fields stored with the document, for search's filter "
                    "(strings, numbers, booleans, lists); 'source' names where it came from. "
                    "With texts: one object for all, or a list with one per text.",
                },
                "id": {
                    "anyOf": [_ID, {"type": "array", "items": _ID}],
                    "description": "the document's id (with texts: a list, one per text)",
                },
            }
        ),
        _object(
            {
                "ids": {"type": "array", "items": {"type": "string"}},
                "indexed": {"type": "integer", "description": "new documents"},
                "replaced": {"type": "integer", "description": "documents whose text changed"},
                "unchanged": {"type": "integer", "description": "stored already, as they are"},
                "chunks": {"type": "integer", "description": "chunks written"},
            },
            ("ids", "indexed", "replaced", "unchanged", "chunks"),
        ),
        cli="index",
        read_only=False,
        destructive=True,  # an existing id is replaced
    )
    list_documents = ToolSpec(
        "list_documents",
        "List the documents",
        f"List the documents of the '{collection}' collection, sorted by source: each with its "
        "source, document id, number of chunks, characters and content hash (what "
        "`jina-v3 ls` lists). Select with a source glob ('*.md', '/docs/guide/*') and a "
        "metadata filter; at most limit documents are returned (truncated says when there "
        "are more).",
        _arguments(
            {
                "source": {"type": "string", "description": "glob over the sources"},
                "filter": {"type": "object", "description": _FILTER},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIST,
                    "default": DEFAULT_LIST,
                    "description": "documents to return at most",
                },
            }
        ),
        _object(
            {
                "documents": {
                    "type": "array",
                    "items": _object(
                        {
                            "source": {"type": "string"},
                            "document_id": {"type": "string"},
                            "chunks": {"type": "integer"},
                            "characters": {"type": "integer"},
                            "content_hash": {"type": "string"},
                        },
                        ("source", "document_id", "chunks", "characters", "content_hash"),
                    ),
                },
                "total": {"type": "integer", "description": "documents that match"},
                "truncated": {"type": "boolean"},
            },
            ("documents", "total", "truncated"),
        ),
        cli="ls",
        read_only=True,
    )
    delete = ToolSpec(
        "delete",
        "Delete documents",
        f"Delete from the '{collection}' collection one document by its id (all its chunks), "
        "or every document of a source: a source as list_documents shows it, or a folder "
        "(every document under it). Pass exactly one of id and source. A delete that matches "
        "nothing is an error.",
        _arguments(
            {
                "id": {**_ID, "description": "a document id"},
                "source": {"type": "string", "description": "a source, or a folder of sources"},
            }
        ),
        _object({"deleted_chunks": {"type": "integer"}}, ("deleted_chunks",)),
        cli="delete",
        read_only=False,
        destructive=True,
    )
    info = ToolSpec(
        "info",
        "Describe the collection",
        f"Describe the '{collection}' collection: its store, its embedding signature (model, "
        "dimensions, tasks, late chunking, keyword channel), its point count, whether it is "
        "hybrid, and whether this server is read-only.",
        _arguments({}),
        _object(
            {
                "collection": {"type": "string"},
                "store": {"type": "string"},
                "model": {"type": "string"},
                "signature": {"type": ["object", "null"]},
                "points": {"type": "integer"},
                "hybrid": {"type": "boolean"},
                "read_only": {"type": "boolean"},
                "tools": {"type": "array", "items": {"type": "string"}},
                "defaults": _object({"k": {"type": "integer"}, "mode": {"type": "string"}}),
            },
            ("collection", "store", "model", "signature", "points", "hybrid", "read_only"),
        ),
        cli="info",
        read_only=True,
    )
    return [search, add, list_documents, delete, info]

"""What the Haystack and LlamaIndex integrations share, written once.

- :func:`choose_backend`: "a ready ``Embedder`` or the settings that make one, never both",
  the backend those settings mean, and settings that do not apply to it.
- :class:`EmbedderOwner`: the embedder's life cycle for a framework object (built lazily from
  the settings, one backend, so one model in memory, for the sync and the async side; closed
  only when it was built here).
- Late chunking: :func:`source_groups` (which inputs form one document, in order),
  :func:`without_empty` (splits with no text stay out) and :func:`pack_groups` are pure;
  :func:`embed_flow` is the one embedding loop, a flow (:mod:`jina_v3._flow`) that ``run``
  drives with an ``Embedder`` and ``arun`` with an ``AsyncEmbedder``.
- :func:`qdrant_vector_size`: the size of an existing Qdrant collection's vectors.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from jina_v3._flow import Call, Flow
from jina_v3._packing import pack
from jina_v3.embedder import AsyncEmbedder, Embedder
from jina_v3.errors import ConfigurationError, InputTooLongError
from jina_v3.options import Secret

logger = logging.getLogger("jina_v3.connectors")

#: Names input `i` in warnings and errors: its document's id and source id, never a position.
Describe = Callable[[int], str]

#: Where the API key comes from unless given: the names Haystack and LlamaIndex users set.
DEFAULT_API_KEY_ENV = ("JINA_API_KEY", "JINAAI_API_KEY")
DEFAULT_LOCAL_MODEL = "jinaai/jina-embeddings-v3"
DEFAULT_API_MODEL = "jina-embeddings-v3"

#: The Embedder settings that apply to one backend only.
LOCAL_OPTIONS = ("device", "dtype")
API_OPTIONS = ("base_url", "timeout", "max_retries")

Backend = Literal["local", "api"]


def choose_backend(
    embedder: Any, settings: Mapping[str, Any], *, key_given: bool, owner: str
) -> Backend | None:
    """The backend `settings` make (None when a ready `embedder` is used instead).

    Args:
        embedder: The ``embedder=`` argument (None: build one from the settings).
        settings: The Embedder settings by name, ``backend`` included (None: not given).
        key_given: Whether an API key other than the default was given.
        owner: What the message calls the object ("component", "embedding").

    Raises:
        ConfigurationError: Both an embedder and settings, a foreign embedder object, an
            unknown backend, or settings of the other backend.
    """
    given = [name for name, value in settings.items() if value is not None]
    if key_given:
        given.append("api_key")
    if embedder is not None:
        if given:
            raise ConfigurationError(
                "Pass either embedder=... or the settings that make one, not both (got "
                f"embedder and {', '.join(given)})."
            )
        if not isinstance(embedder, (Embedder, AsyncEmbedder)):
            raise ConfigurationError(
                f"embedder must be a jina_v3 Embedder or AsyncEmbedder, got "
                f"{type(embedder).__name__}"
            )
        return None
    backend = settings.get("backend")
    if backend is None:
        backend = "api" if key_given or settings.get("base_url") is not None else "local"
    if backend not in ("local", "api"):
        raise ConfigurationError(f"backend must be 'local' or 'api', got {backend!r}")
    wrong = LOCAL_OPTIONS if backend == "api" else (*API_OPTIONS, "api_key")
    conflicting = [name for name in given if name in wrong]
    if conflicting:
        other = "local" if backend == "api" else "api"
        raise ConfigurationError(
            f"{', '.join(conflicting)} only apply to backend={other!r}, but this {owner} uses "
            f"backend={backend!r}; drop them or pass backend={other!r}."
        )
    return backend


def resolve_model(
    model: str | None,
    embedder: Any,
    options: Mapping[str, Any],
    *,
    key_given: bool,
    owner: str,
    name: str = "model",
) -> tuple[str, Backend | None]:
    """An embedding model's model name and backend, its settings checked (:func:`choose_backend`).

    Args:
        model: The model setting (None: the backend's default model).
        embedder: The ``embedder=`` argument (its model and no backend are returned).
        options: The other settings by name (``backend``, ``device``, ``base_url``, ...).
        key_given: Whether an API key was given.
        owner: What the message calls the object; `name`: what it calls the model setting.
    """
    settings = {name: model, "backend": options.get("backend")}
    settings |= {option: options.get(option) for option in (*LOCAL_OPTIONS, *API_OPTIONS)}
    backend = choose_backend(embedder, settings, key_given=key_given, owner=owner)
    if embedder is not None:
        return embedder.model_name, None
    if model is None:
        model = DEFAULT_API_MODEL if backend == "api" else DEFAULT_LOCAL_MODEL
    return model, backend


class EmbedderOwner:
    """The embedder life cycle of a framework object (a mixin; no state of its own).

    The host keeps ``_given`` / ``_sync`` / ``_async`` (set by :meth:`_adopt`), the settings
    ``backend``, ``device``, ``dtype``, ``base_url``, ``timeout``, ``max_retries``, and
    implements :meth:`_model_setting` and :meth:`_api_key_value`.
    """

    if TYPE_CHECKING:
        _given: Embedder | AsyncEmbedder | None
        _sync: Embedder | None
        _async: AsyncEmbedder | None
        backend: Backend | None

    def _model_setting(self) -> str | None:
        raise NotImplementedError

    def _api_key_value(self) -> str | Secret | None:
        """The key as ``Embedder(api_key=...)`` takes it: one read from an environment
        variable as ``Secret.from_env(NAME)`` (pickles travel with the name only, as the core
        Embedder's do), a given value as it is, None for the default variables."""
        raise NotImplementedError

    def _adopt(self, embedder: Embedder | AsyncEmbedder | None) -> None:
        self._given = embedder
        self._sync = embedder if isinstance(embedder, Embedder) else None
        self._async = embedder if isinstance(embedder, AsyncEmbedder) else None

    def _make_embedder(self) -> Embedder:
        names = API_OPTIONS if self.backend == "api" else LOCAL_OPTIONS
        options = {name: getattr(self, name) for name in names}
        if self.backend == "api":
            options["api_key"] = self._api_key_value()
        options = {k: v for k, v in options.items() if v is not None}
        return Embedder(self._model_setting(), backend=self.backend, **options)

    def _sync_embedder(self) -> Embedder:
        """The sync embedder (built on first use; given an AsyncEmbedder: its backend)."""
        if self._sync is None:
            self._sync = (
                self._make_embedder()
                if self._async is None
                else Embedder(backend=self._async.backend)
            )
        return self._sync

    def _async_twin(self) -> AsyncEmbedder:
        """The async embedder, sharing the sync one's backend (one model for both)."""
        if self._async is None:
            self._async = AsyncEmbedder(backend=self._sync_embedder().backend)
        return self._async

    async def _async_embedder(self) -> AsyncEmbedder:
        """:meth:`_async_twin`, loading the model in a worker thread (never on the loop)."""
        if self._sync is None and self._async is None:
            await asyncio.to_thread(self._sync_embedder)
        return self._async_twin()

    def _loaded(self) -> Embedder | AsyncEmbedder | None:
        return self._sync or self._async

    def _release(self) -> None:
        """Close the embedder built here (a given one stays open)."""
        if self._given is None:
            sync, self._sync, self._async = self._sync, None, None
            if sync is not None:
                sync.close()

    async def _arelease(self) -> None:
        """Close the embedder built here, async clients included."""
        if self._given is None and self._loaded() is not None:
            embedder = self._async_twin()
            self._sync = self._async = None
            await embedder.aclose()


# -- late chunking -----------------------------------------------------------------------------


class EmbeddingModel(EmbedderOwner):
    """What the LlamaIndex and LangChain embedding models share beyond the life cycle.

    The host also keeps the settings ``dimensions``, ``truncate`` and ``max_concurrency`` and
    a ``_limits`` weak dictionary (one semaphore per event loop), and calls :meth:`_start` at the
    end of its ``__init__``; the settings it checks with :func:`resolve_model`.
    """

    if TYPE_CHECKING:
        dimensions: int | None
        truncate: bool
        max_concurrency: int
        _limits: Any

    @property
    def embedder(self) -> Embedder:
        """The sync :class:`~jina_v3.Embedder` (built from the settings on first use)."""
        return self._sync_embedder()

    @property
    def output_dimensions(self) -> int:
        """The size of the vectors this object returns."""
        return self.dimensions or self.embedder.max_dimensions

    def close(self) -> None:
        """Release the model or HTTP connections (a given ``embedder=`` stays open)."""
        self._release()

    async def aclose(self) -> None:
        """Release the model or HTTP connections, async clients included."""
        await self._arelease()

    def _limit(self) -> asyncio.Semaphore:
        """At most ``max_concurrency`` calls in flight on the running loop."""
        loop = asyncio.get_running_loop()
        semaphore = self._limits.get(loop)
        if semaphore is None:
            semaphore = self._limits[loop] = asyncio.Semaphore(self.max_concurrency)
        return semaphore

    def _start(self, embedder: Embedder | AsyncEmbedder | None) -> None:
        """The state of a new object: the given embedder (if any), no loop's semaphore yet."""
        self._adopt(embedder)
        self._limits = weakref.WeakKeyDictionary()

    def _args(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions, "truncate": self.truncate}

    def _embed(self, texts: str | list[str], *, query: bool) -> Any:
        """Queries (``retrieval.query``) or passages (``retrieval.passage``) as lists."""
        embedder = self.embedder
        encode = embedder.encode_queries if query else embedder.encode_passages
        return encode(texts, **self._args()).tolist()

    async def _aembed(self, texts: str | list[str], *, query: bool) -> Any:
        """:meth:`_embed` on the async embedder, at most ``max_concurrency`` calls in flight."""
        embedder = await self._async_embedder()
        encode = embedder.encode_queries if query else embedder.encode_passages
        async with self._limit():
            return (await encode(texts, **self._args())).tolist()


def source_groups(
    sources: Sequence[Any], orders: Sequence[Any], *, describe: Describe, field: str
) -> list[list[int]]:
    """The positions embedded together: one group per source, in order of first appearance.

    A group is sorted by `orders` when every member has an integer order (else input order);
    an input without a source (None) is a group of its own.

    Raises:
        ConfigurationError: A source that cannot be an id (unhashable), naming the input
            (`describe`) and `field` (where the source comes from, and the setting naming it).
    """
    groups: list[list[int]] = []
    by_source: dict[Hashable, list[int]] = {}
    for i, source in enumerate(sources):
        if source is None:
            groups.append([i])
            continue
        try:
            hash(source)
        except TypeError:  # a list or dict (or a tuple holding one)
            raise ConfigurationError(
                f"Late chunking: {describe(i)}: its {field} is a {type(source).__name__} "
                f"({source!r:.60}), which cannot identify a source document; store a string "
                "id there, or name the field that holds one."
            ) from None
        if source in by_source:
            by_source[source].append(i)
        else:
            by_source[source] = [i]
            groups.append(by_source[source])
    for members in by_source.values():
        if all(isinstance(orders[i], int) and not isinstance(orders[i], bool) for i in members):
            members.sort(key=lambda i: orders[i])
    return groups


def without_empty(
    groups: list[list[int]],
    texts: Sequence[str],
    describe: Describe,
    outcome: str = "left without an embedding",
) -> tuple[list[list[int]], list[int]]:
    """`groups` less the inputs with no text (empty or whitespace), and those inputs.

    Late chunking pools each chunk's tokens, so a chunk without any has no vector: it is left
    out of its document's pass (the others are embedded together as before) with a warning,
    rather than failing every document (`outcome` says what becomes of it).
    """
    empty = [i for group in groups for i in group if not texts[i].strip()]
    for i in empty:
        logger.warning("late chunking: %s has no text; it is %s", describe(i), outcome)
    if not empty:
        return groups, []
    skip = set(empty)
    kept = [[i for i in group if i not in skip] for group in groups]
    return [group for group in kept if group], empty


def pack_groups(groups: list[list[int]], batch_size: int) -> list[list[list[int]]]:
    """Groups packed into calls of at most `batch_size` inputs (a bigger group goes alone)."""
    return [groups[r.start : r.stop] for r in pack(map(len, groups), max_size=batch_size)]


def embed_flow(
    texts: Sequence[str],
    batches: Iterable[list[list[int]]],
    *,
    late_chunking: bool,
    encode: Mapping[str, Any],
    describe: Describe,
    truncate: bool = False,
) -> Flow[list[list[float] | None]]:
    """Embed `texts` with the passage task, one ``embedder`` call per batch; the vectors in
    input order (None for an input in no batch).

    With `late_chunking` each group is one document whose members are its chunks (one pass
    per document, never mixed); without it the groups hold one text each. An over-long input
    is named by `describe`, never by its position in the batch.
    """
    vectors: list[Any] = [None] * len(texts)
    for batch in batches:
        documents = [[texts[i] for i in group] for group in batch]
        try:
            if late_chunking:
                arrays = yield Call("embedder", "encode_late_chunked", (documents,), dict(encode))
            else:
                passages = [chunks[0] for chunks in documents]
                kwargs = {**encode, "truncate": truncate}
                rows = yield Call("embedder", "encode_passages", (passages,), kwargs)
                arrays = [row[None, :] for row in rows]
        except InputTooLongError as exc:
            raise _too_long(exc, batch, late_chunking, describe) from None
        for group, array in zip(batch, arrays, strict=True):
            for i, row in zip(group, array, strict=True):
                vectors[i] = row.tolist()
    return vectors


def _too_long(
    error: InputTooLongError, batch: list[list[int]], late: bool, describe: Describe
) -> InputTooLongError:
    if not late and 0 <= error.index < len(batch):
        where, fix = describe(batch[error.index][0]), "split it, or pass truncate=True"
    else:  # a late-chunked request: its source, when the call held one
        named = [describe(group[0]) for group in batch]
        where = named[0] if len(named) == 1 else "one of " + "; ".join(named)
        fix = "split its source into smaller documents"
    return error.retold(where[:1].upper() + where[1:], fix)


def qdrant_vector_size(client: Any, collection: str, vector_name: str | None) -> int | None:
    """The vector size of an existing Qdrant collection (its `vector_name` vectors when they
    are named, else the first), None when there is no such collection (or no client)."""
    if client is None or not client.collection_exists(collection):
        return None
    vectors = client.get_collection(collection).config.params.vectors
    if isinstance(vectors, dict):
        vectors = vectors.get(vector_name or "") or next(iter(vectors.values()), None)
    size = getattr(vectors, "size", None)
    return size if isinstance(size, int) else None

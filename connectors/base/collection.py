"""A collection's life cycle against an embedding signature, for :class:`BaseStore`.

Created on first use with the signature stored; an existing one is described, and its
signature, vector size and layout checked against this run's with one wording for every
engine; an empty one that we made (or a half-made one) is re-created for new settings rather
than refused, and a foreign empty one adopted. The engine hooks it calls (``_exists``,
``_describe``, ``_create``, ``_drop``, ``_adopt``, ``_opened``, ``_can_remake``,
``_foreign_points``) are :class:`~jina_v3.connectors.base.store.BaseStore`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jina_v3._flow import Flow
from jina_v3.errors import (
    ConfigurationError,
    SignatureMismatchError,
    StoreError,
)
from jina_v3.index.store import (
    REBUILD_FIX,
    EmbeddingSignature,
    check_signature,
    dimension_mismatch,
)

logger = logging.getLogger("jina_v3.connectors")


@dataclass(frozen=True)
class Described:
    """What an existing collection says about itself."""

    signature: EmbeddingSignature | None  # None: made by something else than jina_v3
    dimensions: int | None = None  # the engine's own vector size, where it reports one
    layout: Mapping[str, Any] = field(default_factory=dict)


class CollectionLifecycle:
    """The signature side of a store (a mixin of BaseStore; its state and hooks are BaseStore's)."""

    def _check_fits(self, signature: EmbeddingSignature) -> None:
        """Refuse a signature this store cannot hold, before anything is written."""
        if signature.keywords is not None and not self.keyword_channel:
            raise ConfigurationError(
                f"{type(self).__name__} has no keyword channel (hybrid search) yet. Fix: pass "
                "hybrid=False, or use QdrantEdgeStore, QdrantStore, PineconeStore or a Milvus "
                "Lite MilvusStore."
            )
        if signature.embedding_type not in self.embedding_types:
            stored = " or ".join(map(repr, self.embedding_types))
            fix = " with binary_quantization=True" if "Qdrant" in self.engine else ""
            raise ConfigurationError(
                f"{self.engine} stores embedding_type {stored}, not "
                f"{signature.embedding_type!r} (binary vectors). Use embedding_type='float'{fix}."
            )
        if signature.embedding_type == "ubinary" and self.funnel_dimensions is not None:
            raise ConfigurationError(
                "funnel_dimensions works with float vectors only; drop it for 'ubinary'"
            )
        if self.funnel_dimensions is not None and self.funnel_dimensions >= signature.dimensions:
            raise ConfigurationError(
                f"funnel_dimensions={self.funnel_dimensions} must be smaller than the index's "
                f"dimensions={signature.dimensions}."
            )

    def _ensure_flow(self, signature: EmbeddingSignature, recreate: bool) -> Flow[None]:
        self._check_fits(signature)
        exists = yield from self._exists()
        if exists and recreate:
            logger.info("recreate=True: dropping %s collection %r", self.engine, self.collection)
            yield from self._drop()
            self._forget_layout()
            self._signature, exists = None, False
        if not exists:
            yield from self._create(signature)
            self._signature = signature
            return
        found = yield from self._describe()
        try:
            self._check_described(found, signature)
        except SignatureMismatchError:
            # Settings that nothing was written with (a first run that failed before its
            # first batch, e.g. a refused API key) bind no one: an empty collection of ours
            # is made anew for this run's signature; one with data, or made by someone
            # else, is refused.
            if found.signature is None or not self._can_remake():
                raise
            yield from self._opened()
            if (yield from self._foreign_points()):
                raise
            logger.warning(
                "%s collection %r is empty and records other settings; re-creating it for "
                "this index's",
                self.engine,
                self.collection,
            )
            yield from self._drop()
            self._forget_layout()
            yield from self._create(signature)
            self._signature = signature
            return
        yield from self._opened()
        if found.signature is None:
            # Made elsewhere: its vectors' model and task are unknown, so only an empty
            # collection is adopted (its signature recorded).
            points = yield from self._foreign_points()
            if points:
                raise SignatureMismatchError(
                    f"{self.engine} collection {self.collection!r} holds {points} points "
                    "written without an embedding signature (unknown model, task and "
                    f"dimensions). Fix: {REBUILD_FIX}."
                )
            logger.warning(
                "%s collection %r has no embedding signature; recording this index's",
                self.engine,
                self.collection,
            )
            yield from self._adopt(signature)
        self._signature = signature

    def _check_described(self, found: Described, signature: EmbeddingSignature) -> None:
        # the signature first: it names every setting that differs, the size among them
        check_signature(signature, found.signature, collection=self.collection)
        if found.dimensions is not None and found.dimensions != signature.dimensions:
            raise dimension_mismatch(self.collection, found.dimensions, signature.dimensions)
        self._check_layout(found.layout)

    def _adopt_layout(self, layout: Mapping[str, Any]) -> None:
        """A store opened without naming a funnel (a store URI: the CLI, a copy, a framework
        over ``open_store``) takes the collection's, so it reads and writes it as made."""
        stored = layout.get("funnel_dimensions")
        if stored is not None and self.funnel_dimensions is None:
            self._set_funnel(stored, self.funnel_oversample)
            self._funnel_adopted = True

    def _forget_layout(self) -> None:
        """A collection made anew takes this store's own layout, not the dropped one's."""
        if self._funnel_adopted:
            self._set_funnel(None, self.funnel_oversample)
            self._funnel_adopted = False

    def _check_layout(self, layout: Mapping[str, Any]) -> None:
        self._adopt_layout(layout)
        stored = layout.get("funnel_dimensions")
        if stored != self.funnel_dimensions:
            raise SignatureMismatchError(
                f"{self.engine} collection {self.collection!r} was created with "
                f"funnel_dimensions={stored} but this store uses funnel_dimensions="
                f"{self.funnel_dimensions}. Fix: pass funnel_dimensions={stored}, or "
                f"{REBUILD_FIX}."
            )

    def _read_flow(self) -> Flow[EmbeddingSignature | None]:
        if not (yield from self._exists()):
            return None
        found = yield from self._describe()
        if found.signature is not None:
            self._adopt_layout(found.layout)
        return found.signature

    def _expected(self) -> Flow[EmbeddingSignature]:
        """The collection's signature: cached after ensure_collection, else read once."""
        if self._signature is None:
            found = None
            if (yield from self._exists()):
                found = yield from self._describe()
            if found is None or found.signature is None:
                raise StoreError(
                    f"{self.engine} collection {self.collection!r} does not exist or has no "
                    "embedding signature; call ensure_collection(signature) first "
                    "(VectorIndex does)."
                )
            self._check_layout(found.layout)
            yield from self._opened()
            self._signature = found.signature
        return self._signature

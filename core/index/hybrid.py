"""What the index pipeline adds for the keyword channel: records with their term weights, and
the search-time checks. The weights and the fusion themselves are :mod:`.keywords`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import KeywordEncoder, check_search_mode
from jina_v3.index.store import Record


def with_keywords(records: list[Record], encoder: KeywordEncoder | None) -> list[Record]:
    """The records with their BM25 document weights (unchanged without a channel)."""
    if encoder is None:
        return records
    weights = encoder.documents([r.text for r in records])
    return [dataclasses.replace(r, keywords=w) for r, w in zip(records, weights, strict=True)]


def search_weights(
    mode: str, fusion: str, weights: Sequence[float] | None, encoder: KeywordEncoder | None
) -> tuple[float, float]:
    """Check ``search(mode=, fusion=, weights=)`` against the index; the (dense, keyword)
    weights of the fusion."""
    pair = check_search_mode(mode, fusion, weights)
    if mode != "dense" and encoder is None:
        raise ConfigurationError(
            f"mode={mode!r} needs the keyword channel, and this index has none. Fix: "
            "VectorIndex(..., hybrid=True) (VectorIndex.open sets it for a collection "
            "indexed with it); a collection indexed without it must be re-indexed into "
            "a new collection with hybrid=True (`jina-v3 index --hybrid`)."
        )
    return pair

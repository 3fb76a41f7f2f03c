"""The keyword channel on Milvus Lite: Milvus's own BM25 function over a text field of token ids.

Each point's terms (the model's token ids, :mod:`jina_v3.index.keywords`) are written as words
of digits, each as often as it occurs, into the ``terms`` field; its ``standard`` analyzer
splits them back, and the BM25 function keeps the statistics (document frequencies, lengths)
in the engine, right after every add and delete. The index uses the same k1 and b as the
other engines; the average length is the collection's real one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from jina_v3.connectors.base.common import require
from jina_v3.index.keywords import (
    K1,
    B,
    SparseVector,
    bm25_document_weights,
    bm25_parameters,
)

TERMS, KEYWORDS = "terms", "keywords"
#: The search parameters of the keyword field.
BM25_SEARCH = {"metric_type": "BM25"}


def add_channel(schema: Any, index_params: Any, pymilvus: Any, max_length: int) -> None:
    """The ``terms`` text field, the ``keywords`` sparse field it feeds, and their index."""
    DataType = pymilvus.DataType
    schema.add_field(
        TERMS,
        DataType.VARCHAR,
        max_length=max_length,
        enable_analyzer=True,
        analyzer_params={"type": "standard"},
    )
    schema.add_field(KEYWORDS, DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        pymilvus.Function(
            name="bm25",
            function_type=pymilvus.FunctionType.BM25,
            input_field_names=[TERMS],
            output_field_names=[KEYWORDS],
        )
    )
    index_params.add_index(
        field_name=KEYWORDS,
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": K1, "bm25_b": B},
    )


def terms_text(keywords: SparseVector | None, max_length: int) -> str:
    """A record's terms as the ``terms`` field holds them (cut at whole terms to the limit)."""
    text = "" if keywords is None else keywords.as_text()
    if len(text) <= max_length:
        return text
    return text[: text.rfind(" ", 0, max_length + 1)].rstrip()


def terms_weights(text: str | None, identity: str | None) -> SparseVector:
    """A point's keyword weights back from its ``terms`` field: the counts are exact, and
    the weights follow from them (`identity`: the collection's ``signature.keywords``)."""
    counts = Counter(int(term) for term in (text or "").split())
    return bm25_document_weights(counts, *bm25_parameters(identity))


def bm25_score(distance: float) -> float:
    """Milvus Lite reports BM25 as a negative distance; the score is its size."""
    return abs(float(distance))


def hybrid_requests(
    vector: np.ndarray,
    keywords: SparseVector,
    limit: int,
    expression: str,
    search_params: Mapping[str, Any],
) -> list[Any]:
    """The two channels of a ``hybrid_search``: the dense vector and the query's terms."""
    pymilvus = require("pymilvus", "milvus", "pymilvus")
    return [
        pymilvus.AnnSearchRequest(
            data=[vector.tolist()],
            anns_field="vector",
            param={"metric_type": "COSINE", "params": dict(search_params)},
            limit=limit,
            expr=expression,
        ),
        pymilvus.AnnSearchRequest(
            data=[keywords.as_text()],
            anns_field=KEYWORDS,
            param=BM25_SEARCH,
            limit=limit,
            expr=expression,
        ),
    ]


def rrf_ranker(k: int) -> Any:
    """Milvus's RRF, ``sum(1 / (k + rank))``: :func:`jina_v3.index.keywords.fuse` with equal
    weights."""
    return require("pymilvus", "milvus", "pymilvus").RRFRanker(k)

"""The keyword channel of hybrid search: BM25 term weights keyed by the model's own token ids,
and the one definition of rank fusion.

Terms are the pieces of the model's tokenizer (XLM-R sentencepiece, 250,002 pieces), so every
language the model reads is segmented without a per-language analyzer: 首都 is two pieces, an
exact code such as ``XJ-4471b`` a handful. Special tokens (``<s>``, ``</s>``, ``<pad>``,
``<unk>``, ``<mask>``), the bare word-boundary piece ``▁`` and the task instruction are never
terms; a word-initial piece ``▁X`` counts as the piece ``X`` where the vocabulary has it (the
same word, at the start of a text or inside a CJK clause). Pieces are case-sensitive, as the
model's are.

Weights follow BM25 (Robertson; Lucene's and Qdrant's IDF):

* document side: the saturated, length-normalised term frequency
  ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg_length))``;
* query side: 1.0 per distinct term;
* the IDF ``ln(1 + (N - df + 0.5) / (df + 0.5))`` comes from the collection's own corpus,
  applied by the engine where it keeps the statistics (Qdrant's IDF modifier, Milvus's BM25
  function), by the connector from the statistics it keeps otherwise.

Fusion is weighted reciprocal rank fusion (Cormack et al.; Elasticsearch's and OpenSearch's
weighted form): a point at rank ``r`` (1 = first) of a channel with weight ``w`` scores
``w / (k + r)``, summed over the channels. :func:`fuse` divides by the best possible sum, so a
hybrid score lies in (0, 1] and 1.0 means first in every channel. With equal weights this is
exactly the engines' own RRF (Qdrant's ``Rrf(k + 1)``, which counts positions from 0, and
Milvus's ``RRFRanker(k)``), so the engine fuses; Qdrant's weighted RRF divides the position by
the weight instead (a weight barely moves the top ranks), so unequal weights fuse here, from
each channel's own results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jina_v3.errors import ConfigurationError

__all__ = [
    "DEFAULT_RRF_K",
    "FUSIONS",
    "MODES",
    "KeywordEncoder",
    "SparseVector",
    "bm25_document_weights",
    "bm25_idf",
    "bm25_parameters",
    "check_search_mode",
    "encoder_for",
    "fuse",
    "rrf_max",
    "rrf_term",
    "stored_weights",
    "term_counts",
]

#: BM25's usual constants; ``avg_length`` is the typical chunk in tokens (the index's chunks
#: are at most a few hundred pieces).
K1, B, AVG_LENGTH = 1.2, 0.75, 256.0
#: The RRF constant (the literature's).
DEFAULT_RRF_K = 60
MODES = ("dense", "keyword", "hybrid")
FUSIONS = ("rrf",)


@dataclass(frozen=True)
class SparseVector:
    """Term weights keyed by token id: ``indices`` sorted ascending and distinct, ``values``
    the weight of each; for a document, ``counts`` the occurrences of each (for an engine
    that computes BM25 itself, such as Milvus)."""

    indices: tuple[int, ...]
    values: tuple[float, ...]
    counts: tuple[int, ...] = ()

    def as_text(self) -> str:
        """The terms as words of digits, each as often as it occurs (a query's once each):
        what an engine's own BM25 analyzer splits back into the same terms."""
        counts = self.counts or (1,) * len(self.indices)
        return " ".join(" ".join([str(i)] * n) for i, n in zip(self.indices, counts, strict=True))

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.indices, self.values, strict=True))

    def __len__(self) -> int:
        return len(self.indices)


_BOUNDARY = "\u2581"


def _boundary_fold(tokenizer: Any) -> np.ndarray:
    """Token id -> term id: a word-initial piece ``▁X`` counts as ``X`` where the vocabulary
    has ``X``, so 首都 matches whether it starts the text (``▁首都``) or follows another word."""
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    fold = np.arange(max(vocab.values()) + 1, dtype=np.int64)
    for piece, i in vocab.items():
        if piece.startswith(_BOUNDARY) and len(piece) > 1:
            fold[i] = vocab.get(piece[1:], i)
    return fold


def _sparse(weights: Mapping[int, float]) -> SparseVector:
    ids = sorted(weights)
    return SparseVector(tuple(ids), tuple(float(weights[i]) for i in ids))


class KeywordEncoder:
    """BM25 term weights over a ``tokenizers.Tokenizer`` (the model's ``tokenizer.json``).

    Args:
        tokenizer: The model's tokenizer; the local backend's own, or one loaded from the
            checkpoint's ``tokenizer.json`` (see :func:`encoder_for`).
        k1, b, avg_length: BM25's term-frequency saturation, length normalisation and the
            length at which normalisation is neutral.
    """

    def __init__(
        self, tokenizer: Any, *, k1: float = K1, b: float = B, avg_length: float = AVG_LENGTH
    ) -> None:
        if not (k1 > 0 and 0 <= b <= 1 and avg_length > 0):
            raise ConfigurationError(
                f"BM25 needs k1 > 0, 0 <= b <= 1, avg_length > 0; got {k1}, {b}, {avg_length}"
            )
        self.tokenizer = tokenizer
        self.k1, self.b, self.avg_length = float(k1), float(b), float(avg_length)
        decoder = tokenizer.get_added_tokens_decoder()
        special = {i for i, token in decoder.items() if token.special}
        # the bare word-boundary piece ("▁" before CJK, digits, punctuation) says nothing
        boundary = tokenizer.token_to_id(_BOUNDARY)
        self.special_ids = frozenset(special if boundary is None else special | {boundary})
        self._fold = _boundary_fold(tokenizer)
        self._identity: str | None = None

    @property
    def identity(self) -> str:
        """What the collection's signature records: the weighting and a digest of the
        tokenizer (another tokenizer maps the same text to other ids)."""
        if self._identity is None:
            digest = hashlib.sha256(self.tokenizer.to_str().encode("utf-8")).hexdigest()[:16]
            vocab = self.tokenizer.get_vocab_size(with_added_tokens=True)
            self._identity = (
                f"bm25(k1={self.k1:g},b={self.b:g},avg={self.avg_length:g})"
                f";tokenizer={vocab}:{digest}"
            )
        return self._identity

    def terms(self, texts: Sequence[str]) -> list[list[int]]:
        """The term ids of each text, in order (repeats kept; no special tokens)."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        special, fold = self.special_ids, self._fold
        return [[int(fold[i]) for i in e.ids if i not in special] for e in encodings]

    def document_weights(self, terms: Sequence[int]) -> SparseVector:
        """The BM25 document side of one text's terms (IDF left to the store)."""
        return bm25_document_weights(Counter(terms), self.k1, self.b, self.avg_length)

    def documents(self, texts: Sequence[str]) -> list[SparseVector]:
        """BM25 document weights of each text (empty for a text without terms)."""
        return [self.document_weights(t) for t in self.terms(texts)]

    def query(self, text: str) -> SparseVector:
        """Query weights: 1.0 for each distinct term (the store applies IDF)."""
        return _sparse(dict.fromkeys(self.terms([text])[0], 1.0))


def bm25_document_weights(
    counts: Mapping[int, int], k1: float = K1, b: float = B, avg_length: float = AVG_LENGTH
) -> SparseVector:
    """BM25's document side for a text's term counts (term id -> occurrences): the one
    formula, so weights rebuilt from counts equal the ones written, bit for bit."""
    norm = k1 * (1 - b + b * sum(counts.values()) / avg_length)
    weights = _sparse({t: tf * (k1 + 1) / (tf + norm) for t, tf in counts.items()})
    return dataclasses.replace(weights, counts=tuple(counts[i] for i in weights.indices))


_IDENTITY = re.compile(r"bm25\(k1=([^,]+),b=([^,]+),avg=([^)]+)\)")


def bm25_parameters(identity: str | None) -> tuple[float, float, float]:
    """``(k1, b, avg_length)`` as a collection's signature records them
    (:attr:`KeywordEncoder.identity`); the defaults for an identity in another form."""
    match = _IDENTITY.match(identity or "")
    try:
        k1, b, avg = (float(x) for x in match.groups()) if match else (K1, B, AVG_LENGTH)
    except ValueError:
        return K1, B, AVG_LENGTH
    return k1, b, avg


def term_counts(
    weights: SparseVector, k1: float = K1, b: float = B, avg_length: float = AVG_LENGTH
) -> tuple[int, ...] | None:
    """The term counts whose BM25 document weights are `weights` (as Qdrant and Pinecone
    store them: weights only, in float32), or None where no counts give them (a point cut to
    its heaviest terms, other parameters; with ``b = 1`` weights fix counts only up to scale).

    Each weight gives its term's count over the length normaliser, ``tf / norm``, and the
    normaliser follows from the length, the sum of the counts: solved for it, then refined
    with the rounded counts, then checked by rebuilding the weights.
    """
    values = np.asarray(weights.values, dtype=np.float64)
    if not len(values):
        return ()
    if b >= 1 or not np.all((values > 0) & (values < k1 + 1)):
        return None
    ratio = values / (k1 + 1 - values)  # tf / norm, term by term
    # norm = k1 * (1 - b + b * length / avg) with length = norm * sum(ratio)
    denominator = 1 - k1 * b * float(ratio.sum()) / avg_length
    norm = k1 * (1 - b) / denominator if denominator > 0 else k1
    for _ in range(8):  # the rounded counts give the length exactly: refine until stable
        counts = np.maximum(np.rint(ratio * norm), 1).astype(np.int64)
        following = k1 * (1 - b + b * int(counts.sum()) / avg_length)
        if following == norm:
            break
        norm = following
    found = {t: int(c) for t, c in zip(weights.indices, counts, strict=True)}
    rebuilt = bm25_document_weights(found, k1, b, avg_length)
    if not np.allclose(rebuilt.values, values, rtol=1e-5, atol=0):
        return None
    return rebuilt.counts


def stored_weights(weights: SparseVector | None, identity: str | None) -> SparseVector:
    """A point's keyword weights as an engine gives them back, made whole: the weights and
    the term counts (what Milvus's own BM25 reads), as the index wrote them. `identity` is
    the collection's ``signature.keywords``. Weights without recoverable counts stay as
    they are (counts empty); a point without terms has empty weights."""
    if weights is None or not len(weights):
        return SparseVector((), ())
    parameters = bm25_parameters(identity)
    counts = weights.counts or term_counts(weights, *parameters)
    if not counts:
        return weights
    return bm25_document_weights(dict(zip(weights.indices, counts, strict=True)), *parameters)


def bm25_idf(document_frequency: int | np.ndarray, documents: int) -> Any:
    """BM25's IDF as Qdrant and Lucene define it: always positive, lower for common terms."""
    df = np.asarray(document_frequency, dtype=np.float64)
    return np.log1p((documents - df + 0.5) / (df + 0.5))


def check_search_mode(
    mode: str, fusion: str, weights: Sequence[float] | None
) -> tuple[float, float]:
    """Validate ``search(mode=, fusion=, weights=)``; returns the (dense, keyword) weights."""
    if mode not in MODES:
        raise ConfigurationError(f"mode={mode!r}: use one of {', '.join(map(repr, MODES))}")
    if fusion not in FUSIONS:
        raise ConfigurationError(f"fusion={fusion!r}: use one of {', '.join(map(repr, FUSIONS))}")
    if weights is None:
        return 1.0, 1.0
    pair = tuple(weights)
    if len(pair) != 2 or not all(
        isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w > 0
        for w in pair
    ):
        raise ConfigurationError(
            f"weights={weights!r}: pass two positive numbers, (dense, keyword), e.g. (1.0, 2.0)"
        )
    return float(pair[0]), float(pair[1])


def rrf_term(position: int, k: int = DEFAULT_RRF_K, weight: float = 1.0) -> float:
    """The contribution of a point at 0-based `position` (rank ``position + 1``) of a channel."""
    return weight / (k + position + 1)


def rrf_max(k: int = DEFAULT_RRF_K, weights: Sequence[float] = (1.0, 1.0)) -> float:
    """The best possible fused score: first in every channel."""
    return sum(rrf_term(0, k, w) for w in weights)


def fuse(
    rankings: Sequence[Sequence[str]],
    *,
    k: int = DEFAULT_RRF_K,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of ranked id lists (best first), as ``(id, score)`` best first,
    scores normalised to (0, 1] (:func:`rrf_max` is 1.0). Ties keep the order of first
    appearance, channel by channel."""
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ConfigurationError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for position, point in enumerate(ranking):
            scores[point] = scores.get(point, 0.0) + rrf_term(position, k, weight)
    best = rrf_max(k, weights)
    fused = sorted(scores.items(), key=lambda item: -item[1])  # stable: ties keep first seen
    return [(point, score / best) for point, score in fused[:limit]]


def encoder_for(embedder: Any) -> KeywordEncoder:
    """The keyword encoder of an embedder, over the tokenizer its backend already has: the
    local backend's, or for the API the ``tokenizer.json`` it was given (``tokenizer=``) or
    finds in the Hugging Face cache.

    Raises:
        ConfigurationError: An API embedder without a tokenizer (offline, nothing cached).
    """
    backend = getattr(embedder, "backend", embedder)
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is None and getattr(backend, "kind", None) == "api":
        from jina_v3.remote.exchange import TokenCounter

        counter = getattr(backend, "_counter", None)
        if counter is None:
            counter = backend._counter = TokenCounter.load(backend.options.tokenizer, backend.model)
        tokenizer = counter.tokenizer
    if tokenizer is None:
        raise ConfigurationError(
            "The keyword channel (hybrid=True) needs the model's tokenizer.json and this "
            "embedder has none. Fix: pass Embedder(backend='api', tokenizer='PATH/tokenizer.json') "
            "(the file from the jinaai/jina-embeddings-v3 repository), or download it once "
            "with `huggingface-cli download jinaai/jina-embeddings-v3 tokenizer.json` so it "
            "is found in the cache; or use a local embedder."
        )
    return KeywordEncoder(tokenizer)

"""The keyword channel's term weights and the one fusion, on the tiny checkpoint's tokenizer
and on a tokenizer with a realistic vocabulary trained offline (tests/_tokenizer.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jina_v3.errors import ConfigurationError
from jina_v3.index.keywords import (
    KeywordEncoder,
    SparseVector,
    bm25_document_weights,
    bm25_idf,
    bm25_parameters,
    check_search_mode,
    encoder_for,
    fuse,
    rrf_max,
    rrf_term,
    stored_weights,
    term_counts,
)
from tests.conftest import TINY_MODEL

tokenizers = pytest.importorskip("tokenizers")


def _tiny() -> KeywordEncoder:
    return KeywordEncoder(tokenizers.Tokenizer.from_file(str(TINY_MODEL / "tokenizer.json")))


def _realistic() -> KeywordEncoder:
    from tests._tokenizer import realistic_tokenizer

    return KeywordEncoder(realistic_tokenizer())


ENCODERS = {"tiny": _tiny, "realistic": _realistic}

CORPUS = {
    "zh": "柏林是德国首都。",
    "ja": "東京は日本の大きな都市です。",
    "ar": "القاهرة هي عاصمة مصر.",
    "de": "Die Hauptstadt von Frankreich ist Paris.",
    "en": "The printer reports error XJ-4471b after the paper jam.",
    "en2": "The weather in winter is cold and the trains are late.",
}
QUERIES = {"zh": "首都", "ja": "日本", "ar": "عاصمة", "de": "Hauptstadt", "en": "XJ-4471b"}


def _bm25_ranking(encoder: KeywordEncoder, corpus: dict[str, str], query: str) -> list[str]:
    """Full BM25 (the store's IDF applied here) over `corpus`, best first."""
    docs = dict(zip(corpus, encoder.documents(list(corpus.values())), strict=True))
    df: dict[int, int] = {}
    for vector in docs.values():
        for term in vector.indices:
            df[term] = df.get(term, 0) + 1
    q = encoder.query(query).as_dict()
    scores = {
        name: sum(
            float(bm25_idf(df[t], len(docs))) * w * vector.as_dict().get(t, 0.0)
            for t, w in q.items()
            if t in df
        )
        for name, vector in docs.items()
    }
    best = sorted(scores, key=lambda n: -scores[n])
    assert scores[best[0]] > scores[best[1]]  # a clear winner, not a tie at zero
    return best


@pytest.fixture(params=sorted(ENCODERS))
def encoder(request: pytest.FixtureRequest) -> KeywordEncoder:
    return ENCODERS[request.param]()


def test_special_tokens_are_never_terms(encoder: KeywordEncoder) -> None:
    terms = encoder.terms(["<s> Berlin </s><pad><mask>"])[0]
    assert terms and not set(terms) & encoder.special_ids
    assert {0, 1, 2} <= encoder.special_ids  # <s> <pad> </s>
    assert encoder.tokenizer.token_to_id("\u2581") in encoder.special_ids  # a bare boundary
    assert encoder.query("<s></s>").indices == ()


def test_terms_are_the_text_alone_without_the_instruction(encoder: KeywordEncoder) -> None:
    text = "Berlin is the capital of Germany."
    plain = encoder.terms([text])[0]
    expected = encoder.tokenizer.encode(text, add_special_tokens=False).ids
    vocab = encoder.tokenizer.get_vocab()
    pieces = [encoder.tokenizer.id_to_token(i) for i in expected]
    folded = [vocab.get(p[1:], vocab[p]) if p.startswith("\u2581") else vocab[p] for p in pieces]
    assert plain == [t for t, p in zip(folded, pieces, strict=True) if p != "\u2581"]
    instruction = "Represent the document for retrieval: "
    with_instruction = encoder.tokenizer.encode(instruction + text).ids
    assert len(with_instruction) > len(plain) + 2  # the embedder's input holds more


def test_document_weights_saturate_and_normalise_length(encoder: KeywordEncoder) -> None:
    word = "Hauptstadt"
    terms = encoder.terms([word])[0]
    rarest = terms[-1]
    top = [encoder.documents([" ".join([word] * n)])[0].as_dict()[rarest] for n in (1, 2, 8)]
    assert top[0] < top[1] < top[2] < encoder.k1 + 1  # more occurrences, saturating
    # the same single occurrence weighs less in a longer document
    long_text = word + " " + "Fluss Berg Markt " * 80
    short, long = encoder.documents([word, long_text])
    long_terms = encoder.terms([long_text])[0]
    once = [t for t in set(terms) if terms.count(t) == 1 == long_terms.count(t)]
    assert once and all(long.as_dict()[t] < short.as_dict()[t] for t in once)


def test_bm25_formula_by_hand() -> None:
    encoder = _realistic()
    terms = [7, 7, 9]
    weights = encoder.document_weights(terms).as_dict()
    norm = 1.2 * (1 - 0.75 + 0.75 * 3 / 256)
    assert weights[7] == pytest.approx(2 * 2.2 / (2 + norm))
    assert weights[9] == pytest.approx(1 * 2.2 / (1 + norm))
    assert encoder.query("Berlin Berlin").values == (1.0,) * len(encoder.query("Berlin"))
    assert bm25_idf(1, 10) > bm25_idf(10, 10) > 0  # a term in every document still counts a bit
    assert float(bm25_idf(3, 10)) == pytest.approx(math.log(1 + 7.5 / 3.5))


def test_the_weights_an_engine_stores_give_back_the_counts_exactly() -> None:
    """Qdrant and Pinecone keep a point's weights in float32, Milvus its counts: each gives
    back the weights and counts the index wrote (what a copy to the other needs)."""
    encoder = _realistic()
    identity = encoder.identity
    assert bm25_parameters(identity) == (1.2, 0.75, 256.0)
    assert bm25_parameters("another weighting") == (1.2, 0.75, 256.0)
    rng = np.random.default_rng(0)
    for length in [*range(1, 40), *rng.integers(40, 9000, size=150)]:
        terms = (rng.zipf(1.3, size=length) % 3000).tolist()
        written = encoder.document_weights(terms)
        as_float32 = SparseVector(written.indices, tuple(np.float32(written.values).tolist()))
        assert term_counts(as_float32) == written.counts
        assert stored_weights(as_float32, identity) == written  # Qdrant, Pinecone
        counts_only = SparseVector(written.indices, (0.0,) * len(written), written.counts)
        assert stored_weights(counts_only, identity) == written  # Milvus
    assert stored_weights(None, identity) == SparseVector((), ())  # a point without terms
    # the 1,000 heaviest of a longer text's terms fix no counts: the weights stay as read
    many = bm25_document_weights({t: 1 + t % 3 for t in range(3000)})
    keep = sorted(np.argsort(many.values)[-1000:])
    cut = SparseVector(tuple(many.indices[i] for i in keep), tuple(many.values[i] for i in keep))
    assert term_counts(cut) is None and stored_weights(cut, identity) == cut


def test_every_language_finds_its_document_by_keyword(encoder: KeywordEncoder) -> None:
    # the tiny vocabulary (652 pieces) has no CJK or Arabic pieces: those are <unk> there
    known = [n for n, q in QUERIES.items() if encoder.terms([q])[0]]
    assert set(known) >= {"de", "en"}
    if encoder.tokenizer.get_vocab_size() > 1000:
        assert set(known) == set(QUERIES)
    for name in known:
        assert _bm25_ranking(encoder, CORPUS, QUERIES[name])[0] == name, name


def test_a_term_in_every_document_weighs_less_than_a_rare_one() -> None:
    encoder = _realistic()
    corpus = {f"d{i}": f"Berlin Fluss Markt {i}" for i in range(6)}
    corpus["d0"] = "Berlin Hauptstadt"
    # "Berlin" is everywhere, "Hauptstadt" only in d0: d0 wins the query of both
    assert _bm25_ranking(encoder, corpus, "Hauptstadt Berlin")[0] == "d0"
    (common,) = encoder.query("Berlin").indices[-1:]
    df_common = sum(common in v.indices for v in encoder.documents(list(corpus.values())))
    assert df_common == len(corpus)
    assert bm25_idf(df_common, len(corpus)) < bm25_idf(1, len(corpus))


def test_identity_names_the_tokenizer_and_the_weighting() -> None:
    tiny, realistic = _tiny(), _realistic()
    assert tiny.identity == _tiny().identity  # stable
    assert tiny.identity != realistic.identity
    assert "bm25(k1=1.2,b=0.75,avg=256)" in tiny.identity
    assert KeywordEncoder(tiny.tokenizer, k1=2.0).identity != tiny.identity
    with pytest.raises(ConfigurationError, match="k1"):
        KeywordEncoder(tiny.tokenizer, b=2)


def test_rrf_is_weighted_reciprocal_rank_normalised() -> None:
    assert rrf_term(0, 60) == pytest.approx(1 / 61)  # rank 1
    assert rrf_term(2, 60) == pytest.approx(1 / 63)
    assert rrf_term(1, 60, 2.0) == pytest.approx(2 / 62)
    fused = dict(fuse([["a", "b", "c"], ["a", "c"]], k=60))
    assert fused["a"] == pytest.approx(1.0)  # first in every channel
    assert fused["c"] == pytest.approx((1 / 63 + 1 / 62) / (2 / 61))
    assert fused["b"] == pytest.approx((1 / 62) / (2 / 61))
    assert list(fused) == ["a", "c", "b"]
    # a weight is the channel's importance: (first, second) vs (second, first) flips
    assert [p for p, _ in fuse([["a", "b"], ["b", "a"]], weights=[1.0, 3.0])] == ["b", "a"]
    assert [p for p, _ in fuse([["a", "b"], ["b", "a"]], weights=[3.0, 1.0])] == ["a", "b"]
    weighted = dict(fuse([["a", "b"], ["b", "a"]], weights=[1.0, 3.0]))
    assert weighted["b"] == pytest.approx((1 / 62 + 3 / 61) / rrf_max(60, [1.0, 3.0]))
    assert rrf_max(60, [1.0, 3.0]) == pytest.approx(4 / 61)
    assert all(0 < s <= 1 for _, s in fuse([["x"], []]))
    assert fuse([["a", "b"], ["c"]], limit=1) == [("a", pytest.approx(0.5))]


def test_search_mode_arguments_are_checked() -> None:
    assert check_search_mode("hybrid", "rrf", None) == (1.0, 1.0)
    assert check_search_mode("hybrid", "rrf", [1, 2.5]) == (1.0, 2.5)
    for bad in [(1.0,), (0, 1), (1, float("nan")), (True, 1)]:
        with pytest.raises(ConfigurationError, match="weights"):
            check_search_mode("hybrid", "rrf", bad)
    with pytest.raises(ConfigurationError, match="mode='sparse'"):
        check_search_mode("sparse", "rrf", None)
    with pytest.raises(ConfigurationError, match="fusion"):
        check_search_mode("hybrid", "max", None)


def test_encoder_for_reuses_the_local_tokenizer(tiny_embedder) -> None:
    encoder = encoder_for(tiny_embedder)
    assert encoder.tokenizer is tiny_embedder.backend.tokenizer
    assert encoder.identity == _tiny().identity


def test_encoder_for_the_api_needs_a_tokenizer_file(monkeypatch) -> None:
    from jina_v3 import Embedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    bare = Embedder(backend="api", api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="tokenizer="):
        encoder_for(bare)
    given = Embedder(
        backend="api",
        api_key="k",
        base_url="http://127.0.0.1:9",
        tokenizer=str(TINY_MODEL / "tokenizer.json"),
    )
    assert encoder_for(given).identity == _tiny().identity
    ids = np.array(encoder_for(given).query("Berlin").indices)
    assert ids.size and (ids > 3).all()

"""Embedder API: arguments, errors, edge-case inputs, embedding types, async parity."""

from __future__ import annotations

import base64
import logging

import numpy as np
import pytest

from jina_v3 import (
    AsyncEmbedder,
    ConfigurationError,
    Embedder,
    InputTooLongError,
    UnknownTaskError,
)
from jina_v3._encoding import to_wire
from tests.conftest import TINY_MODEL, golden, published_copy


@pytest.mark.parametrize(
    ("task", "suggestion"),
    [("clustering", "separation"), ("retrieval.querry", "retrieval.query"),
     ("passage", "retrieval.passage"), ("text_matching", "text-matching")],
)  # fmt: skip
def test_unknown_task_lists_valid_ones_and_suggests(tiny_embedder, task, suggestion):
    with pytest.raises(UnknownTaskError) as info:
        tiny_embedder.encode(["x"], task=task)
    message = str(info.value)
    assert f"Did you mean task={suggestion!r}" in message
    for valid in ("retrieval.query", "retrieval.passage", "separation", "classification"):
        assert valid in message


def test_unknown_task_without_close_match_has_no_suggestion(tiny_embedder):
    with pytest.raises(UnknownTaskError) as info:
        tiny_embedder.encode(["x"], task="zzzz")
    assert "Did you mean" not in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("dimensions", [0, -1, 65, "32", 3.0, True])
def test_bad_dimensions_are_typed_errors(tiny_embedder, dimensions):
    with pytest.raises(ConfigurationError, match="dimensions"):
        tiny_embedder.encode(["x"], dimensions=dimensions)


@pytest.mark.parametrize("dimensions", [1, 7, 33, 64])
def test_any_dimensions_truncate_then_normalise(tiny_embedder, dimensions):
    texts = golden("texts.json")
    full = tiny_embedder.encode(texts, task="classification", normalized=False)
    out = tiny_embedder.encode(texts, task="classification", dimensions=dimensions)
    expected = full[:, :dimensions] / np.linalg.norm(full[:, :dimensions], axis=1, keepdims=True)
    assert out.shape == (len(texts), dimensions)
    assert np.allclose(out, expected, atol=1e-6)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_unnormalized_is_the_mean_pool(tiny_embedder):
    raw = tiny_embedder.encode(["Berlin."], normalized=False)
    assert not np.isclose(np.linalg.norm(raw), 1.0)
    normalised = tiny_embedder.encode(["Berlin."])
    assert np.allclose(raw / np.linalg.norm(raw), normalised, atol=1e-6)


def test_embedding_types_follow_the_api_layouts(tiny_embedder):
    texts = golden("texts.json")
    floats = tiny_embedder.encode(texts, task="retrieval.query", dimensions=20)
    ubinary = tiny_embedder.encode(texts, task="retrieval.query", dimensions=20,
                                   embedding_type="ubinary")  # fmt: skip
    binary = tiny_embedder.encode(texts, task="retrieval.query", dimensions=20,
                                  embedding_type="binary")  # fmt: skip
    b64 = tiny_embedder.encode(texts, task="retrieval.query", dimensions=20,
                               embedding_type="base64")  # fmt: skip
    assert ubinary.dtype == np.uint8 and ubinary.shape == (len(texts), 3)  # ceil(20 / 8)
    bits = np.unpackbits(ubinary, axis=1)[:, :20]
    assert np.array_equal(bits, (floats > 0).astype(np.uint8))
    assert binary.dtype == np.int8
    assert np.array_equal(binary.astype(np.int16), ubinary.astype(np.int16) - 128)
    assert b64.dtype == np.float32 and np.array_equal(b64, floats)  # base64 is a wire format
    wire = to_wire(b64, "base64")
    decoded = np.stack([np.frombuffer(base64.b64decode(s), "<f4") for s in wire])
    assert np.array_equal(decoded, floats)


def test_bad_embedding_type(tiny_embedder):
    with pytest.raises(ConfigurationError, match="embedding_type"):
        tiny_embedder.encode(["x"], embedding_type="int8")


def test_inputs_must_be_strings(tiny_embedder):
    with pytest.raises(ConfigurationError, match=r"texts\[1\]"):
        tiny_embedder.encode(["ok", 3])
    with pytest.raises(ConfigurationError, match="documents"):
        tiny_embedder.encode_late_chunked("not a list of documents")


def test_over_long_input_is_an_error_naming_index_and_count(tiny_embedder):
    texts = ["short", "the " * 9000]
    with pytest.raises(InputTooLongError) as info:
        tiny_embedder.encode(texts)
    err = info.value
    assert (err.index, err.tokens, err.limit) == (1, 9002, 8194)
    assert "Input 1 has 9002 tokens" in str(err) and "truncate=True" in str(err)


def test_over_long_input_counts_the_instruction(tiny_embedder):
    # 8192 words fit without a task (8194 tokens) but not with the query instruction
    text = "the " * 8192
    assert tiny_embedder.encode([text]).shape == (1, 64)
    with pytest.raises(InputTooLongError):
        tiny_embedder.encode([text], task="retrieval.query")


def test_truncate_cuts_like_the_official_tokenizer(tiny_embedder):
    # official: keep <s>, the first 8192 text tokens and </s>
    cut = tiny_embedder.encode(["the " * 9000], truncate=True)
    exact = tiny_embedder.encode(["the " * 8192])
    assert np.abs(cut - exact).max() <= 1e-5


@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t", "🙂🚀 emoji", "Mixed 中文 العربية русский ελληνικά", "x" * 3000]
)
def test_edge_case_inputs_give_finite_unit_vectors(tiny_embedder, text):
    out = tiny_embedder.encode([text, text], task="retrieval.passage")
    assert out.shape == (2, 64)
    assert np.isfinite(out).all()
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(out[0], out[1])  # duplicates give identical rows


def test_one_and_ten_thousand_inputs(tiny_embedder):
    texts = [f"document number {i} about {'berlin' if i % 2 else 'paris'}" for i in range(10_000)]
    many = tiny_embedder.encode(texts, task="retrieval.passage", dimensions=16)
    assert many.shape == (10_000, 16)
    for i in (0, 4_999, 9_999):
        one = tiny_embedder.encode([texts[i]], task="retrieval.passage", dimensions=16)
        assert one.shape == (1, 16)
        assert np.abs(many[i] - one[0]).max() <= 1e-5


def test_empty_input_list(tiny_embedder):
    assert tiny_embedder.encode([], dimensions=8).shape == (0, 8)
    assert tiny_embedder.encode_late_chunked([]) == []


def test_query_and_passage_presets(tiny_embedder):
    texts = golden("texts.json")[:3]
    assert np.array_equal(tiny_embedder.encode_queries(texts),
                          tiny_embedder.encode(texts, task="retrieval.query"))  # fmt: skip
    assert np.array_equal(tiny_embedder.encode_passages(texts),
                          tiny_embedder.encode(texts, task="retrieval.passage"))  # fmt: skip
    assert not np.allclose(tiny_embedder.encode_queries(texts),
                           tiny_embedder.encode_passages(texts))  # fmt: skip


def test_late_chunking_rejects_empty_chunks(tiny_embedder):
    with pytest.raises(ConfigurationError, match=r"chunk\(s\) \[1\]"):
        tiny_embedder.encode(["Berlin is big.", "", "It is old."], late_chunking=True)


def test_late_chunking_long_document_uses_windows(tiny_model_path):
    chunks = [f"Sentence number {i} talks about the city and its people." for i in range(60)]
    windowed = Embedder(str(tiny_model_path), dtype="float32", window_tokens=64, window_overlap=16)
    out = windowed.encode(chunks, late_chunking=True, task="retrieval.passage")
    assert out.shape == (60, 64) and np.isfinite(out).all()
    whole = Embedder(str(tiny_model_path), dtype="float32")
    ref = whole.encode(chunks, late_chunking=True, task="retrieval.passage")
    # windows change context, not the meaning of the rows: each row stays close to the one-pass row
    assert (out * ref).sum(axis=1).min() > 0.5
    assert not np.allclose(out, ref)


def test_conflicting_backend_options_are_refused(tiny_model_path):
    with pytest.raises(ConfigurationError, match="only apply to backend='api'"):
        Embedder(str(tiny_model_path), timeout=3)
    with pytest.raises(ConfigurationError, match="Unknown argument"):
        Embedder(str(tiny_model_path), trust_remote_code=True)
    with pytest.raises(ConfigurationError, match=r"'devcie'.*did you mean 'device'"):
        Embedder(str(tiny_model_path), devcie="cpu")
    with pytest.raises(ConfigurationError, match=r"'max_retry'.*did you mean 'max_retries'"):
        AsyncEmbedder(backend="api", api_key="k", max_retry=2)
    from jina_v3.remote.backend import RemoteBackend  # a backend object's constructor too

    with pytest.raises(ConfigurationError, match=r"'timout'.*did you mean 'timeout'"):
        RemoteBackend(api_key="k", timout=3)
    with pytest.raises(ConfigurationError, match="dtype"):
        Embedder(str(tiny_model_path), dtype="float16x")
    with pytest.raises(ConfigurationError, match="window_overlap"):
        Embedder(str(tiny_model_path), window_tokens=16, window_overlap=16)


def test_repr_and_properties(tiny_embedder):
    assert tiny_embedder.max_dimensions == 64
    assert "backend='local'" in repr(tiny_embedder)
    before = tiny_embedder.usage.total_tokens
    tiny_embedder.encode(["Berlin."])
    assert tiny_embedder.usage.total_tokens > before


def test_threads_option_sets_torch_threads(tiny_model_path):
    import torch

    previous = torch.get_num_threads()
    try:
        Embedder(str(tiny_model_path), threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_licence_notice_is_logged_once_for_published_weights_only(
    tiny_model_path, tmp_path, caplog, monkeypatch
):
    import jina_v3.local.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "_licence_logged", False)
    with caplog.at_level(logging.WARNING, logger="jina_v3"):
        Embedder(str(tiny_model_path))  # the project's test checkpoint: not Jina's weights
        assert not [r for r in caplog.records if "CC BY-NC 4.0" in r.getMessage()]
        published = published_copy(tmp_path)
        Embedder(str(published))
        Embedder(str(published))
    notices = [r for r in caplog.records if "CC BY-NC 4.0" in r.getMessage()]
    assert len(notices) == 1


@pytest.mark.parametrize(
    ("model", "config", "published"),
    [
        ("jinaai/jina-embeddings-v3", {}, True),  # the hub id
        ("/models/v3", {"_name_or_path": "jinaai/jina-embeddings-v3"}, True),  # its download
        ("/models/ft", {"hidden_size": 1024, "num_hidden_layers": 24, "vocab_size": 250002},
         True),  # a fine-tune: v3's full shapes
        ("tests/fixtures/tiny-v3", {"_name_or_path": "tiny-v3", "hidden_size": 64}, False),
    ],
)  # fmt: skip
def test_published_weights_are_told_apart(model, config, published):
    from jina_v3.local.checkpoint import is_published_weights

    assert is_published_weights(model, config) is published


async def test_async_embedder_matches_sync(tiny_embedder):
    async with AsyncEmbedder(str(TINY_MODEL), dtype="float32") as embedder:
        texts = golden("texts.json")
        out = await embedder.encode_queries(texts, dimensions=32)
        assert np.abs(out - tiny_embedder.encode_queries(texts, dimensions=32)).max() <= 1e-6
        single = await embedder.encode_passages("Berlin.")
        assert single.shape == (64,)
        docs = await embedder.encode_late_chunked([golden("chunks.json")])
        expected = tiny_embedder.encode_late_chunked([golden("chunks.json")])
        assert np.abs(docs[0] - expected[0]).max() <= 1e-6

"""The wire contract, both halves, without I/O: round trips and every malformed answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from jina_v3 import (
    APITimeoutError,
    InputTooLongError,
    MalformedResponseError,
    ServerError,
)
from jina_v3._encoding import finish
from jina_v3._flow import run
from jina_v3.remote.exchange import (
    Answer,
    Endpoint,
    Request,
    RetryPolicy,
    TokenCounter,
    TransportFailure,
    concat,
    exchange,
    plan_texts,
)
from jina_v3.remote.wire import (
    build_payload,
    decode_rows,
    error_for_status,
    model_identity,
    parse_request,
    parse_response,
    render_response,
    scrub,
)
from jina_v3.types import EmbedSpec

SERVED = "jina-embeddings-v3"
ALIASES = {SERVED, "jinaai/jina-embeddings-v3"}


@pytest.mark.parametrize("late_chunking", [False, True])
@pytest.mark.parametrize(
    "spec",
    [
        EmbedSpec(),
        EmbedSpec("retrieval.query", 16, False, "ubinary", True),
        EmbedSpec("text-matching", 8, True, "base64"),
        EmbedSpec(None, 12, True, "binary"),
    ],
    ids=repr,
)
def test_client_payload_parses_on_the_server_as_sent(spec, late_chunking):
    texts = ["Berlin.", "東京", ""]
    doc = json.loads(json.dumps(build_payload(SERVED, texts, spec, late_chunking)))
    req = parse_request(doc, served=SERVED, aliases=ALIASES, max_dims=64)
    assert (req.texts, req.task, req.dimensions, req.normalized) == (
        texts,
        spec.task,
        spec.dimensions,
        spec.normalized,
    )
    assert (req.embedding_types, req.late_chunking, req.truncate) == (
        [spec.embedding_type],
        late_chunking,
        spec.truncate,
    )


@pytest.mark.parametrize("etype", ["float", "base64", "binary", "ubinary"])
@pytest.mark.parametrize("dimensions", [None, 13])
def test_server_answer_parses_on_the_client_as_computed(etype, dimensions):
    pooled = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    spec = EmbedSpec("retrieval.passage", dimensions, True, etype)
    doc = json.loads(json.dumps(build_payload(SERVED, [f"t{i}" for i in range(5)], spec)))
    req = parse_request(doc, served=SERVED, aliases=ALIASES, max_dims=64)
    body = render_response(req, pooled, tokens=42, served=SERVED)
    parsed = parse_response(body, 5, spec, width=None)
    assert np.array_equal(parsed.embeddings, finish(pooled, dimensions, True, etype))
    assert parsed.tokens == 42
    full = dimensions is None and etype in ("float", "base64")
    assert parsed.full_dimensions == (64 if full else None)


def _body(rows, **extra):
    data = [{"object": "embedding", "index": i, "embedding": r} for i, r in enumerate(rows)]
    return json.dumps({"data": data, **extra}).encode()


@pytest.mark.parametrize(
    ("rows", "spec", "width", "words"),
    [
        ([[1.0, 2.0], [1.0, 2.0, 3.0]], EmbedSpec(), None, "different lengths"),
        ([[1.0, 2.0, 3.0]] * 2, EmbedSpec(dimensions=2), 2, "3 values where 2"),
        ([[1.0, None], [1.0, 2.0]], EmbedSpec(), None, "NoneType"),
        ([[1.0, "2.0"], [1.0, 2.0]], EmbedSpec(), None, "str"),
        ([1.5, 2.5], EmbedSpec(), None, "float, not a list"),
        ([[[1.0, 2.0]], [[1.0, 2.0]]], EmbedSpec(), None, "not all numbers"),
        ([[True, False]] * 2, EmbedSpec(), None, "not all numbers"),
        ([[0, 256]] * 2, EmbedSpec(embedding_type="ubinary"), None, "0..255"),
        ([[-1, 3]] * 2, EmbedSpec(embedding_type="ubinary"), None, "0..255"),
        ([[-129, 3]] * 2, EmbedSpec(embedding_type="binary"), None, "-128..127"),
        ([[10**30, 3]] * 2, EmbedSpec(embedding_type="ubinary"), None, "0..255"),
        ([[1.5, 3]] * 2, EmbedSpec(embedding_type="ubinary"), None, "0..255"),
        ([[1, 2]] * 2, EmbedSpec(16, embedding_type="ubinary"), 2, None),  # fine: 16 bits
        ([[1, 2, 3]] * 2, EmbedSpec(16, embedding_type="ubinary"), 2, "3 values where 2"),
        (["AAAA", "AAAAAAAA"], EmbedSpec(embedding_type="base64"), None, "base64"),
        (["not base64!"] * 2, EmbedSpec(embedding_type="base64"), None, "base64"),
        ([3, 4], EmbedSpec(embedding_type="base64"), None, "not a string"),
    ],
)
def test_malformed_rows_are_named_never_reshaped(rows, spec, width, words):
    body = _body(rows)
    if words is None:
        assert parse_response(body, 2, spec, width=width).embeddings.shape == (2, 2)
        return
    with pytest.raises(MalformedResponseError, match=words) as info:
        parse_response(body, 2, spec, width=width)
    assert isinstance(info.value, ServerError) and info.value.status_code == 200


def test_nan_and_infinity_are_malformed():
    body = b'{"data": [{"index": 0, "embedding": [NaN, 1.0]}]}'
    with pytest.raises(MalformedResponseError):  # not JSON for orjson, NaN for json
        parse_response(body, 1, EmbedSpec())
    with pytest.raises(MalformedResponseError):  # a number beyond float range
        parse_response(_body([[math.inf, 1.0]]).replace(b"Infinity", b"1e999"), 1, EmbedSpec())
    for value in (math.nan, math.inf):  # the stdlib json decoder (no orjson) reads them
        with pytest.raises(MalformedResponseError, match="NaN or infinite"):
            decode_rows([[value, 1.0]], "float", None)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[1, 2]", "no `data`"),
        (b'{"data": {}}', "no `data`"),
        (b'{"data": [{"index": 0, "embedding": null}]}', "no embedding"),
        (b'{"data": [{"index": 5, "embedding": [1]}]}', "index 5"),
        (b'{"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [1]}]}', "repeated"),
        (b"{not json", "not JSON"),
    ],
)
def test_broken_documents_are_malformed(body, words):
    with pytest.raises(MalformedResponseError, match=words):
        parse_response(body, 1, EmbedSpec())


def test_batches_of_one_call_must_agree():
    with pytest.raises(MalformedResponseError, match="different row lengths"):
        concat([np.zeros((2, 8), np.float32), np.zeros((1, 4), np.float32)])


def test_scrub_removes_every_form_of_the_key():
    key = "jina_a+b/c=d"
    text = f"raw {key} repr {key!r} json {json.dumps(key)} pct a%2Bb%2Fc%3Dd jina_a%2Bb%2Fc%3Dd"
    out = scrub(text, key)
    assert key not in out and "jina_a%2Bb%2Fc%3Dd" not in out


def test_model_identity_is_the_model_not_the_backend():
    assert model_identity("jinaai/jina-embeddings-v3") == "jina-embeddings-v3"
    assert model_identity("jina-embeddings-v3") == "jina-embeddings-v3"
    assert model_identity("jinaai/jina-embeddings-v3", (1024, 24, 250002)) == "jina-embeddings-v3"
    # the official name on other shapes is another checkpoint: it keeps its own name
    other = model_identity("jinaai/jina-embeddings-v3", (64, 2, 250002))
    assert other == "jinaai/jina-embeddings-v3"
    assert model_identity("tiny-v3", (64, 2, 250002)) == "tiny-v3"
    assert model_identity("jina-embeddings-v2-base-en") == "jina-embeddings-v2-base-en"


def test_input_too_long_from_a_server_carries_status_and_body():
    detail = json.dumps({"detail": "Input 2 has 9000 tokens, over the model's limit of 8194"})
    err = error_for_status(400, detail.encode(), {}, secret=None, first_index=10)
    assert isinstance(err, InputTooLongError)
    assert (err.index, err.tokens, err.limit, err.status_code) == (12, 9000, 8194, 400)
    assert "9000 tokens" in err.body


def test_plan_refuses_over_long_input_before_sending(tiny_model_path):
    pytest.importorskip("tokenizers")
    counter = TokenCounter.load(tiny_model_path / "tokenizer.json", "tiny-v3")
    with pytest.raises(InputTooLongError) as info:
        plan_texts("tiny-v3", ["ok", "word " * 9000], EmbedSpec(), counter)
    assert info.value.index == 1 and info.value.status_code is None


class NoClock:
    def sleep(self, seconds):
        pass


def test_exchange_flow_retries_then_times_out_with_a_clear_message():
    endpoint = Endpoint("http://x/v1/embeddings", {}, 1.5, RetryPolicy(1, 0.01, 0.01))
    request = Request(b"{}", 1, EmbedSpec(), 0)

    class HTTP:
        calls = 0

        def post(self, *args):
            HTTP.calls += 1
            raise TransportFailure("timeout", "deadline")

    with pytest.raises(APITimeoutError, match=r"timeout=1.5s, which bounds each whole request"):
        run(exchange(endpoint, request, None), http=HTTP(), clock=NoClock())
    assert HTTP.calls == 2

    class OK:
        def post(self, *args):
            return Answer(200, {}, _body([[1.0, 2.0]], usage={"total_tokens": 3}))

    parsed = run(exchange(endpoint, request, None), http=OK(), clock=None)
    assert parsed.tokens == 3 and parsed.embeddings.shape == (1, 2)

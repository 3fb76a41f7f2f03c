"""The remote backend against a fault-injecting HTTP server on 127.0.0.1.

Where a retry can succeed, the results stay complete, in input order and without duplicates;
where it cannot, the right typed error is raised, after the right number of requests.
"""

from __future__ import annotations

import asyncio
import logging
import random

import numpy as np
import pytest

from jina_v3 import (
    APIConnectionError,
    APITimeoutError,
    AsyncEmbedder,
    AuthenticationError,
    Embedder,
    InsufficientBalanceError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
)
from jina_v3._packing import pack
from jina_v3.remote.backend import RemoteBackend
from jina_v3.remote.exchange import RetryPolicy
from jina_v3.remote.wire import parse_retry_after
from tests._servers import FaultServer, fake_vector

KEY = "jina_fault-test-key-abcdef"


@pytest.fixture
def fault():
    with FaultServer() as srv:
        yield srv


def make(url, *, timeout=5.0, max_retries=3, max_concurrency=4, **kw) -> Embedder:
    backend = RemoteBackend(
        "jina-embeddings-v3",
        api_key=KEY,
        base_url=url,
        timeout=timeout,
        max_retries=max_retries,
        max_concurrency=max_concurrency,
        backoff_base=0.01,
        backoff_max=0.05,
        **kw,
    )
    return Embedder(backend=backend)


def expected(texts):
    return np.asarray([fake_vector(t) for t in texts], dtype=np.float32)


def texts_for(n, tag="t"):
    return [f"{tag} {i} " + "y" * (i % 7) for i in range(n)]


# -- retries that succeed ----------------------------------------------------------------


@pytest.mark.parametrize(
    "actions",
    [
        [("status", 500, {}, "boom")],
        [("status", 503, {}, "overloaded"), ("status", 502, {}, "bad gateway")],
        [("status", 429, {}, "slow down")],
        ["drop"],
        ["drop_mid"],
        ["truncated"],
        ["short"],
        [("slow", 1.5)],
        [("status", 500, {}, "x"), "drop", "truncated"],
    ],
    ids=lambda a: "+".join(x if isinstance(x, str) else f"{x[0]}{x[1]}" for x in a),
)
def test_retryable_faults_then_success(fault, actions):
    fault.push(*actions)
    texts = texts_for(10)
    got = make(fault.url, timeout=0.5).encode(texts, normalized=False)
    assert np.array_equal(got, expected(texts))
    assert len(fault.requests) == len(actions) + 1


def test_retry_after_is_honoured(fault):
    fault.push(("status", 429, {"Retry-After": "0.4"}, "rate limited"))
    texts = texts_for(3)
    got = make(fault.url).encode(texts, normalized=False)
    assert np.array_equal(got, expected(texts))
    (t0, _), (t1, _) = fault.requests
    assert t1 - t0 >= 0.4  # backoff alone would be at most 0.05 s


def test_retry_after_on_503_is_honoured_too(fault):
    fault.push(("status", 503, {"Retry-After": "0.3"}, "maintenance"))
    got = make(fault.url).encode(["a"], normalized=False)
    assert np.array_equal(got, expected(["a"]))
    (t0, _), (t1, _) = fault.requests
    assert t1 - t0 >= 0.3


def test_large_call_under_faults_stays_complete_ordered_and_unique(fault):
    texts = texts_for(5000)
    fault.push(
        ("status", 503, {}, "x"),
        "drop",
        ("status", 429, {"Retry-After": "0.05"}, "x"),
        "truncated",
        ("slow", 1.5),
    )
    got = make(fault.url, timeout=0.5, max_retries=6, max_concurrency=3).encode(
        texts, normalized=False
    )
    assert np.array_equal(got, expected(texts))
    sizes = [len(p["input"]) for _, p in fault.requests]
    assert max(sizes) <= 2048
    assert len(fault.requests) == 3 + 5  # three batches, five faults
    # every input was sent in exactly one batch per attempt: no input in two batches
    batches = {tuple(p["input"]) for _, p in fault.requests}
    flat = [t for b in batches for t in b]
    assert sorted(flat) == sorted(texts)


def test_shuffled_data_is_restored_by_index():
    with FaultServer(shuffle=True) as srv:
        texts = texts_for(50)
        got = make(srv.url).encode(texts, normalized=False)
    assert np.array_equal(got, expected(texts))


def test_more_than_2048_inputs_make_several_requests(fault):
    texts = texts_for(4500)
    got = make(fault.url, max_concurrency=1).encode(texts, normalized=False)
    assert np.array_equal(got, expected(texts))
    sizes = [len(p["input"]) for _, p in fault.requests]
    assert sizes == [2048, 2048, 404]
    assert [t for _, p in fault.requests for t in p["input"]] == texts  # consecutive, in order


def test_payload_has_only_the_fields_that_are_set(fault):
    emb = make(fault.url)
    emb.encode(["a"], normalized=False)
    emb.encode(["a"], task="retrieval.query", dimensions=4, embedding_type="float")
    emb.encode(["a", "b"], late_chunking=True, truncate=True)
    first, second, third = (p for _, p in fault.requests)
    assert first == {"model": "jina-embeddings-v3", "input": ["a"], "normalized": False}
    assert second == {
        "model": "jina-embeddings-v3",
        "input": ["a"],
        "task": "retrieval.query",
        "dimensions": 4,
        "normalized": True,
    }
    assert third["late_chunking"] is True and third["truncate"] is True


def test_late_chunked_documents_are_one_request_each_and_split_past_8192(fault):
    # without a tokenizer the estimate is ceil(bytes / 2): 40 chunks of 1000 bytes = 20,000
    chunks = [f"{i:04d}" + "z" * 996 for i in range(40)]
    docs = [["doc one, chunk one", "doc one, chunk two"], chunks]
    out = make(fault.url).encode_late_chunked(docs, task=None)
    assert [len(o) for o in out] == [2, 40]
    sent = [p["input"] for _, p in fault.requests]
    assert docs[0] in sent and not any(c in docs[0] for g in sent if g != docs[0] for c in g)
    groups = sorted((g for g in sent if g != docs[0]), key=lambda g: g[0])  # sent concurrently
    assert len(groups) >= 3 and [c for g in groups for c in g] == chunks  # consecutive
    assert all(p["late_chunking"] is True for _, p in fault.requests)
    assert all(sum(len(c) for c in g) // 2 + len(g) <= 8192 for g in groups)
    # the fake server ignores `normalized`: its vectors come back exactly, in order
    assert np.array_equal(out[0], expected(docs[0]))
    assert np.array_equal(out[1], expected(chunks))


# -- failures that must surface --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (402, InsufficientBalanceError),
        (403, InsufficientBalanceError),
        (422, InvalidRequestError),
        (413, InvalidRequestError),
    ],
)
def test_client_errors_are_never_retried(fault, status, error):
    fault.push(("status", status, {}, f"refused with {status}"))
    with pytest.raises(error) as info:
        make(fault.url).encode(["x"])
    assert info.value.status_code == status
    assert f"refused with {status}" in info.value.body
    assert len(fault.requests) == 1


def test_persistent_5xx_raises_server_error_after_the_retries(fault):
    fault.push(*[("status", 503, {}, "still down")] * 10)
    with pytest.raises(ServerError) as info:
        make(fault.url, max_retries=2).encode(["x"])
    assert info.value.status_code == 503 and "still down" in info.value.body
    assert len(fault.requests) == 3


def test_persistent_429_raises_rate_limit_with_retry_after(fault):
    fault.push(*[("status", 429, {"Retry-After": "0"}, "quota")] * 10)
    with pytest.raises(RateLimitError) as info:
        make(fault.url, max_retries=1).encode(["x"])
    assert info.value.retry_after == 0.0 and info.value.status_code == 429
    assert len(fault.requests) == 2


def test_retry_after_beyond_the_cap_is_raised_at_once(fault):
    fault.push(("status", 429, {"Retry-After": "3600"}, "come back in an hour"))
    with pytest.raises(RateLimitError) as info:
        make(fault.url).encode(["x"])
    assert info.value.retry_after == 3600.0
    assert len(fault.requests) == 1


def test_persistent_timeouts_raise_api_timeout_error(fault):
    fault.push(*[("slow", 2.0)] * 3)
    with pytest.raises(APITimeoutError, match="timeout"):
        make(fault.url, timeout=0.3, max_retries=1).encode(["x"])
    assert len(fault.requests) == 2


def test_persistent_drops_raise_api_connection_error(fault):
    fault.push(*["drop"] * 3)
    with pytest.raises(APIConnectionError) as info:
        make(fault.url, max_retries=2).encode(["x"])
    assert not isinstance(info.value, APITimeoutError)
    assert len(fault.requests) == 3


def test_nothing_listening_is_a_connection_error():
    from tests._servers import free_port

    with pytest.raises(APIConnectionError):
        make(f"http://127.0.0.1:{free_port()}", max_retries=1).encode(["x"])


def test_persistent_truncated_json_raises_server_error(fault):
    fault.push(*["truncated"] * 3)
    with pytest.raises(ServerError, match="not an embeddings response"):
        make(fault.url, max_retries=1).encode(["x"])


def test_key_echoed_by_the_server_is_scrubbed(fault, caplog):
    caplog.set_level(logging.DEBUG)
    fault.push("echo_key")
    with pytest.raises(AuthenticationError) as info:
        make(fault.url).encode(["x"])
    assert "invalid key: Bearer ***" in info.value.body
    assert KEY not in str(info.value) and KEY not in info.value.body
    assert KEY not in caplog.text
    assert len(fault.requests) == 1


# -- async path: same policy ---------------------------------------------------------------


async def test_async_retries_and_order(fault):
    texts = texts_for(3000)
    fault.push(("status", 500, {}, "x"), "drop", ("status", 429, {"Retry-After": "0.05"}, "x"))
    backend = RemoteBackend(
        "jina-embeddings-v3",
        api_key=KEY,
        base_url=fault.url,
        max_retries=4,
        max_concurrency=2,
        backoff_base=0.01,
        timeout=0.5,
    )
    async with AsyncEmbedder(backend=backend) as emb:
        got, single = await asyncio.gather(
            emb.encode(texts, normalized=False), emb.encode("alone", normalized=False)
        )
    assert np.array_equal(got, expected(texts))
    assert np.array_equal(single, expected(["alone"])[0])


async def test_async_no_retry_on_401(fault):
    fault.push(("status", 401, {}, "bad key"))
    backend = RemoteBackend("jina-embeddings-v3", api_key=KEY, base_url=fault.url)
    async with AsyncEmbedder(backend=backend) as emb:
        with pytest.raises(AuthenticationError):
            await emb.encode(["x"])
    assert len(fault.requests) == 1


async def test_async_concurrency_is_bounded(fault):
    fault.push(*[("slow", 0.2)] * 6)
    backend = RemoteBackend(
        "jina-embeddings-v3", api_key=KEY, base_url=fault.url, max_concurrency=2, timeout=5
    )
    async with AsyncEmbedder(backend=backend) as emb:
        await asyncio.gather(*(emb.encode([f"q{i}"]) for i in range(6)))
    times = sorted(t for t, _ in fault.requests)
    # with at most 2 in flight, the 6 slow requests arrive in 3 waves ~0.2 s apart
    assert times[-1] - times[0] >= 0.35


# -- the pure policy ---------------------------------------------------------------------


def test_backoff_is_exponential_jittered_and_capped():
    policy = RetryPolicy(max_retries=5, backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(0)
    for attempt in range(5):
        for _ in range(50):
            d = policy.delay(attempt, None, rng)
            assert 0 <= d <= min(4.0, 0.5 * 2**attempt)
    assert policy.delay(5, None) is None
    assert 2.0 <= policy.delay(0, 2.0, rng) <= 2.2
    assert policy.delay(0, 1000.0) is None


def test_retry_after_parsing():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def plan_batches(counts, *, max_tokens):  # the remote's batches: 2048 inputs, a token budget
    return list(pack(counts, max_items=2048, max_size=max_tokens))


def plan_late_groups(base, counts):  # late-chunked groups: 8192 tokens, one per joining space
    return list(pack(counts, max_items=2048, max_size=8192, base=base, separator=1))


def test_batch_planning():
    assert plan_batches([1] * 5000, max_tokens=10**9) == [
        range(2048),
        range(2048, 4096),
        range(4096, 5000),
    ]
    assert plan_batches([6, 6, 6, 20], max_tokens=12) == [range(2), range(2, 3), range(3, 4)]
    # 10 + 4000 + (4000 + 1 joining space) fits 8192; a third chunk does not
    assert plan_late_groups(10, [4000, 4000, 4000]) == [range(2), range(2, 3)]
    assert plan_late_groups(10, [9000, 5]) == [range(1), range(1, 2)]  # alone if too big

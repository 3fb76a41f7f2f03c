"""What concurrent tool calls share, in-process: the model through the server's dynamic batcher
(the embedder's vectors, concurrent calls merged into one forward pass) and the store (one
call at a time, never through the engine's async twins)."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

pytest.importorskip("torch")

from jina_v3.errors import InputTooLongError
from jina_v3.mcp.shared import SerialStore, shared_embedder

TEXTS = ["Berlin is the capital of Germany.", "東京は日本の首都です。", "The printer jams."]


def test_concurrent_calls_share_one_batch_and_get_the_embedders_vectors(tiny_embedder):
    shared, batcher = shared_embedder(tiny_embedder)
    document = ["# Guide", "Backups run nightly.", "Restore from the latest one."]

    async def concurrently():
        calls = [shared.encode_queries(t, dimensions=32) for t in TEXTS]
        calls.append(shared.encode_passages(TEXTS, dimensions=16))
        pending = asyncio.gather(*calls)
        await asyncio.sleep(0.1)  # every call queued before the worker starts
        batcher.start()
        results = await pending
        late = await shared.encode_late_chunked([document], dimensions=24)
        return results, late

    try:
        results, late = asyncio.run(concurrently())
    finally:
        batcher.stop(30)
    assert batcher.batches == 2 and batcher.jobs == len(TEXTS) + 2  # the four calls: one pass
    for text, vector in zip(TEXTS, results, strict=False):
        alone = tiny_embedder.encode_queries(text, dimensions=32)
        np.testing.assert_allclose(vector, alone, rtol=1e-5, atol=1e-6)
    passages = tiny_embedder.encode_passages(TEXTS, dimensions=16)
    np.testing.assert_allclose(results[-1], passages, rtol=1e-5, atol=1e-6)
    expected = tiny_embedder.encode_late_chunked([document], dimensions=24)
    np.testing.assert_allclose(late[0], expected[0], rtol=1e-5, atol=1e-6)


def test_an_input_over_the_context_is_refused_as_the_embedder_refuses_it(tiny_embedder):
    shared, batcher = shared_embedder(tiny_embedder)
    batcher.start()
    try:
        with pytest.raises(InputTooLongError) as caught:
            asyncio.run(shared.encode_passages(["fine", "word " * 9000]))
    finally:
        batcher.stop(30)
    assert caught.value.index == 1 and caught.value.tokens > caught.value.limit
    assert batcher.jobs == 0  # nothing was embedded


class _Engine:
    """Stands in for an engine client that one thread at a time may use: it records how
    many calls overlap."""

    collection = "docs"

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self._count = threading.Lock()

    def count(self) -> int:
        with self._count:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.01)
        with self._count:
            self.inside -= 1
        return 7

    async def acount(self) -> int:  # an async twin, which SerialStore must not offer
        return self.count()


def test_serial_store_runs_one_call_at_a_time_and_offers_no_async_twins():
    from jina_v3.index.store import AsyncVectorStore  # what AsyncVectorIndex checks for

    engine = _Engine()
    store = SerialStore(engine)
    threads = [threading.Thread(target=store.count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert engine.most == 1 and store.count() == 7 and store.collection == "docs"
    assert not hasattr(store, "acount") and not isinstance(store, AsyncVectorStore)

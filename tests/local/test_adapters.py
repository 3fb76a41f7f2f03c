"""Task adapters as a side path: one weight copy for every task, tasks mixed in one forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jina_v3 import ConfigurationError, Embedder
from jina_v3.local.model import Segment, task_segments
from jina_v3.types import EmbedSpec
from tests.conftest import TINY_MODEL, golden

TASKS = [None, "retrieval.query", "retrieval.passage", "separation", "classification",
         "text-matching"]  # fmt: skip


def _spec(task, dimensions=None):
    return EmbedSpec(task, dimensions, True, "float")


def _held_tensors(net: torch.nn.Module) -> tuple[int, int]:
    """(tensors, bytes) the model holds: parameters, buffers and any tensor a module caches."""
    seen: dict[int, torch.Tensor] = {}

    def visit(value) -> None:
        if isinstance(value, torch.Tensor):
            seen[id(value)] = value
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    for module in net.modules():
        for value in vars(module).values():
            visit(value)
    return len(seen), sum(t.numel() * t.element_size() for t in seen.values())


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_weights_held_do_not_grow_with_the_tasks_used(dtype):
    embedder = Embedder(str(TINY_MODEL), dtype=dtype)
    net = embedder.backend.net
    texts = golden("texts.json")
    embedder.encode(texts, task="retrieval.passage")
    one_task = _held_tensors(net)
    for task in TASKS:
        embedder.encode(texts, task=task)
    assert _held_tensors(net) == one_task
    # and one weight per linear layer: the widened one (the plain one and B are released)
    wqkv = net.encoder.layers[0].mixer.Wqkv
    assert wqkv.weight is None and wqkv.lora_B is None
    assert wqkv.widened.is_mkldnn or wqkv.widened.shape == (3 * 64, 64 + 5 * 4)


def _forward_tasks(net):
    """Record the tasks argument of every forward of `net` (a hook on the real module)."""
    calls = []
    net.register_forward_pre_hook(lambda module, args: calls.append(args[2]))
    return calls


def test_a_mixed_task_batch_gives_each_row_its_tasks_vector():
    embedder = Embedder(str(TINY_MODEL), dtype="float32")
    backend = embedder.backend
    texts = golden("texts.json")
    requests = [(texts[i:] + texts[:i], _spec(task)) for i, task in enumerate(TASKS)]
    requests.append((["a short query"], _spec("retrieval.query", dimensions=16)))
    alone = [backend.embed(t, spec) for t, spec in requests]
    calls = _forward_tasks(backend.net)
    together = backend.embed_many(requests)
    assert len(calls) == 1, "the mixed requests should share one forward"
    assert set(calls[0]) == set(range(5)) | {None}
    assert [a.shape for a in together] == [a.shape for a in alone]
    for got, want in zip(together, alone, strict=True):
        assert np.abs(got - want).max() <= 1e-5


def test_mixed_tasks_across_several_budgeted_batches():
    # a budget of three queries and one passage: the first batch straddles the two tasks
    texts = ["Berlin is the capital.", "Paris lies on the Seine.", "Rome has seven hills."]
    probe = Embedder(str(TINY_MODEL), dtype="float32").backend
    q = max(probe.count_tokens(texts, "retrieval.query"))
    p = max(probe.count_tokens(texts, "retrieval.passage"))
    small = Embedder(str(TINY_MODEL), dtype="float32", max_batch_tokens=3 * q + p).backend
    requests = [(texts, _spec("retrieval.query")), (texts, _spec("retrieval.passage"))]
    calls = _forward_tasks(small.net)
    together = small.embed_many(requests)
    assert calls == [[0, 0, 0, 1], [1, 1]]
    for got, (t, spec) in zip(together, requests, strict=True):
        assert np.abs(got - probe.embed(t, spec)).max() <= 1e-5


def test_embed_many_reports_the_failing_input_of_its_request():
    backend = Embedder(str(TINY_MODEL), dtype="float32").backend
    long = "word " * (backend.max_tokens + 10)
    with pytest.raises(Exception, match="Input 1 has"):
        backend.embed_many([(["fine"], _spec(None)), (["ok", long], _spec("retrieval.query"))])


def test_task_segments_are_runs_of_one_adapter():
    assert task_segments([3, 2], None) == []
    assert task_segments([3, 2], 4) == [Segment(0, 5, 4)]
    assert task_segments([3, 2, 4, 1, 1], [0, 0, None, 1, 0]) == [
        Segment(0, 5, 0),
        Segment(9, 10, 1),
        Segment(10, 11, 0),
    ]
    with pytest.raises(ConfigurationError, match="3 tasks given for 2 sequences"):
        task_segments([3, 2], [0, 1, 2])


def test_merge_adapters_trades_memory_for_speed_with_the_same_vectors():
    shared = Embedder(str(TINY_MODEL), dtype="float32").backend
    merged = Embedder(str(TINY_MODEL), dtype="float32", merge_adapters=True).backend
    texts = golden("texts.json")
    requests = [(texts, _spec(task)) for task in TASKS]
    merged.embed(texts, _spec("retrieval.passage"))
    one_task = _held_tensors(merged.net)
    for got, want in zip(merged.embed_many(requests), shared.embed_many(requests), strict=True):
        assert np.abs(got - want).max() <= 1e-5
    # the explicit option: one merged copy of every linear layer per task used
    tensors, size = _held_tensors(merged.net)
    assert tensors > one_task[0] and size > one_task[1]


def test_merge_adapters_must_be_a_bool():
    with pytest.raises(ConfigurationError, match="merge_adapters must be True or False"):
        Embedder(str(TINY_MODEL), merge_adapters="yes")

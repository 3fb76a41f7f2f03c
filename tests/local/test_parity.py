"""The local backend against golden outputs of the official implementation (tiny checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import GOLDEN, TINY_MODEL, golden

TASK_NAMES = ["none", "retrieval.query", "retrieval.passage", "separation", "classification",
              "text-matching"]  # fmt: skip


def _task(name: str) -> str | None:
    return None if name == "none" else name


@pytest.mark.parametrize("dim", [0, 16])
@pytest.mark.parametrize("task", TASK_NAMES)
def test_encode_matches_official(tiny_embedder, task, dim):
    expected = np.array(golden(f"embed_{task}_{dim}.json"))
    out = tiny_embedder.encode(golden("texts.json"), task=_task(task), dimensions=dim or None)
    assert out.shape == expected.shape
    assert np.abs(out - expected).max() <= 1e-5


@pytest.mark.parametrize("task", TASK_NAMES)
def test_sentence_transformers_layout_is_normalise_then_slice(tiny_embedder, task):
    # ST normalises at full size and slices afterwards: our full vectors sliced must match it
    expected = np.array(golden(f"st_prompt_{task}_16.json"))
    full = tiny_embedder.encode(golden("texts.json"), task=_task(task))
    assert np.abs(full[:, :16] - expected).max() <= 1e-5


@pytest.mark.parametrize("task", TASK_NAMES)
def test_late_chunking_matches_official(tiny_embedder, task):
    ref = golden(f"late_{task}_0.json")
    backend = tiny_embedder.backend
    ids, rows = backend._late_chunk_rows(golden("chunks.json"), _task(task), 0)
    assert ids == ref["input_ids"]
    spans = [[rows.index(c), len(rows) - rows[::-1].index(c)] for c in range(3)]
    assert spans == ref["spans"]
    out = tiny_embedder.encode(golden("chunks.json"), task=_task(task), late_chunking=True)
    assert np.abs(out - np.array(ref["embeddings"])).max() <= 1e-5


@pytest.mark.parametrize("task", TASK_NAMES)
def test_late_chunking_with_macro_windows_matches_official(task):
    from jina_v3 import Embedder

    ref = golden(f"late_macro32-8_{task}_0.json")
    embedder = Embedder(str(TINY_MODEL), dtype="float32", window_tokens=32, window_overlap=8)
    out = embedder.encode(golden("chunks.json"), task=_task(task), late_chunking=True)
    assert np.abs(out - np.array(ref["embeddings"])).max() <= 1e-5


def test_all_golden_files_are_covered():
    names = {p.name for p in GOLDEN.glob("*.json")}
    assert {f"embed_{t}_{d}.json" for t in TASK_NAMES for d in (0, 16)} <= names
    assert {f"late_{t}_0.json" for t in TASK_NAMES} <= names
    assert {f"late_macro32-8_{t}_0.json" for t in TASK_NAMES} <= names


@pytest.mark.parametrize("task", TASK_NAMES)
def test_bf16_is_close_to_fp32(tiny_embedder, task):
    from jina_v3 import Embedder

    bf16 = Embedder(str(TINY_MODEL), dtype="bfloat16")
    texts = golden("texts.json")
    a = bf16.encode(texts, task=_task(task))
    b = tiny_embedder.encode(texts, task=_task(task))
    assert a.dtype == np.float32
    assert (a * b).sum(axis=1).min() >= 0.995
    late_a = bf16.encode(golden("chunks.json"), task=_task(task), late_chunking=True)
    late_b = tiny_embedder.encode(golden("chunks.json"), task=_task(task), late_chunking=True)
    assert (late_a * late_b).sum(axis=1).min() >= 0.995


def test_batch_equals_single(tiny_embedder):
    texts = golden("texts.json")
    batch = tiny_embedder.encode(texts, task="retrieval.passage", dimensions=32)
    for i, text in enumerate(texts):
        single = tiny_embedder.encode(text, task="retrieval.passage", dimensions=32)
        assert single.shape == (32,)
        assert np.abs(batch[i] - single).max() <= 1e-5


def test_tiny_batch_budget_gives_same_result(tiny_model_path):
    from jina_v3 import Embedder

    texts = golden("texts.json") * 3
    one_by_one = Embedder(str(tiny_model_path), dtype="float32", max_batch_tokens=1)
    packed = Embedder(str(tiny_model_path), dtype="float32")
    a = one_by_one.encode(texts, task="text-matching")
    b = packed.encode(texts, task="text-matching")
    assert np.abs(a - b).max() <= 1e-5


def test_late_chunked_documents_never_mix(tiny_embedder):
    chunks = golden("chunks.json")
    other = ["Paris is the capital of France.", "It lies on the Seine."]
    together = tiny_embedder.encode_late_chunked([chunks, other, chunks[:2]])
    assert [a.shape for a in together] == [(3, 64), (2, 64), (2, 64)]
    assert (
        np.abs(
            together[0] - tiny_embedder.encode(chunks, task="retrieval.passage", late_chunking=True)
        ).max()
        <= 1e-5
    )
    alone = tiny_embedder.encode(other, task="retrieval.passage", late_chunking=True)
    assert np.abs(together[1] - alone).max() <= 1e-5
    alone = tiny_embedder.encode(chunks[:2], task="retrieval.passage", late_chunking=True)
    assert np.abs(together[2] - alone).max() <= 1e-5


def test_prepacked_bf16_weights_are_bit_identical(monkeypatch):
    import torch

    import jina_v3.local.model as model
    from jina_v3 import Embedder

    texts = golden("texts.json")
    packed = Embedder(str(TINY_MODEL), dtype="bfloat16")
    out_packed = packed.encode(texts, task="retrieval.passage")
    wqkv = packed.backend.net.encoder.layers[0].mixer.Wqkv
    # packed wherever this CPU's oneDNN can pack bf16 (not on AVX2-only CPUs: plain weights),
    # and the plain weight is gone: one copy either way
    can_pack = model._prepack(torch.zeros(16, 16, dtype=torch.bfloat16)).is_mkldnn
    assert wqkv.widened.is_mkldnn == can_pack
    assert wqkv.weight is None
    monkeypatch.setattr(model, "_prepack", lambda weight: weight)
    plain = Embedder(str(TINY_MODEL), dtype="bfloat16").encode(texts, task="retrieval.passage")
    assert np.array_equal(out_packed, plain)

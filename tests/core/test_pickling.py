"""What crosses a process boundary: every error of the tree, and a local Embedder (which
pickles as its settings and loads the model again in the worker)."""

from __future__ import annotations

import importlib
import inspect
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from jina_v3 import errors
from jina_v3.errors import JinaV3Error
from tests.conftest import TINY_MODEL

#: Modules that define errors of the tree outside jina_v3.errors (imported so that the walk
#: over JinaV3Error's subclasses finds them).
_ERROR_MODULES = ("jina_v3.distributed.failures",)

#: A realistic value for each constructor parameter an error of the tree takes. A new
#: parameter fails the test below until it gets one here.
_VALUES = {
    "message": "Input 3 has 9000 tokens, over the model's limit of 8194",
    "reason": "/models/v3 has no model.safetensors.",
    "advice": "Pass the checkpoint directory as model=...",
    "index": 3,
    "tokens": 9000,
    "limit": 8194,
    "status_code": 413,
    "body": '{"detail": "' + "x" * 300 + '"}',  # longer than the kept excerpt
    "retry_after": 4,
    "collection": "docs",
    "differences": {"dimensions": (256, 128), "late_chunking": (True, False)},
    "path": "/data/.jina-v3",
}


def _tree() -> list[type[JinaV3Error]]:
    for module in _ERROR_MODULES:
        importlib.import_module(module)
    found: list[type[JinaV3Error]] = []
    pending = [JinaV3Error]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: c.__qualname__)


def _own_constructor(cls: type[JinaV3Error]) -> bool:
    return any("__init__" in vars(k) for k in cls.__mro__ if issubclass(k, JinaV3Error))


def _instance(cls: type[JinaV3Error]) -> JinaV3Error:
    """An instance made as the library makes it: each constructor parameter given."""
    if not _own_constructor(cls):
        return cls(f"{cls.__name__}: the upsert of 12 points failed; pass recreate=True")
    args, kwargs = [], {}
    for name, parameter in inspect.signature(cls).parameters.items():
        assert name in _VALUES, f"give {cls.__name__}'s parameter {name!r} a value in _VALUES"
        if parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[name] = _VALUES[name]
        else:
            args.append(_VALUES[name])
    return cls(*args, **kwargs)


def test_the_walk_finds_every_error_class_of_the_module():
    tree = _tree()
    declared = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, BaseException)
    ]
    assert declared and set(declared) <= set(tree)
    assert {"TransientStoreError", "RetriesExhaustedError"} <= {c.__name__ for c in tree}


@pytest.mark.parametrize("cls", _tree(), ids=lambda c: c.__name__)
def test_every_error_round_trips_through_pickle(cls):
    error = _instance(cls)
    assert vars(error) or not _own_constructor(cls)  # attributes where it has any
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert str(back) == str(error) and back.args == error.args
    assert vars(back) == vars(error)
    if isinstance(error, ImportError):
        assert back.msg == error.msg


def _encode_in_worker(embedder, texts):
    return embedder.encode_passages(texts, dimensions=32)


def _spawn_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def test_a_local_embedder_pickles_as_its_settings_and_runs_in_a_process_pool():
    pytest.importorskip("torch")
    from jina_v3 import Embedder

    texts = ["Berlin is the capital of Germany.", "Late chunking keeps context."]
    with Embedder(str(TINY_MODEL), dtype="float32", threads=1) as embedder:
        want = embedder.encode_passages(texts, dimensions=32)  # used before it is pickled
        payload = pickle.dumps(embedder)
        assert len(payload) < 4096  # the settings, not the weights
        with _spawn_pool() as pool:
            got = pool.submit(_encode_in_worker, embedder, texts).result(timeout=300)
            # an error in the worker comes back as itself; the pool survives it
            with pytest.raises(errors.InputTooLongError) as caught:
                pool.submit(_encode_in_worker, embedder, ["word " * 9000]).result(timeout=300)
            assert caught.value.index == 0 and caught.value.limit > 0
            again = pool.submit(_encode_in_worker, embedder, texts).result(timeout=300)
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(again, want, atol=1e-6)


def test_an_unpickled_local_embedder_has_the_same_settings():
    pytest.importorskip("torch")
    from jina_v3 import AsyncEmbedder, Embedder

    with Embedder(str(TINY_MODEL), dtype="float32", window_tokens=64, window_overlap=8) as embedder:
        back = pickle.loads(pickle.dumps(embedder))
        try:
            assert back.backend.options == embedder.backend.options
            assert back.model_name == embedder.model_name
            np.testing.assert_array_equal(back.encode("a"), embedder.encode("a"))
        finally:
            back.close()
    twin = pickle.loads(pickle.dumps(AsyncEmbedder(str(TINY_MODEL), dtype="float32")))
    assert isinstance(twin, AsyncEmbedder) and twin.max_dimensions == embedder.max_dimensions

"""Loading: local directories, the hub code path (offline cache), and every loading error."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from jina_v3 import Embedder, MissingDependencyError, ModelLoadError
from tests.conftest import TINY_MODEL, golden


def _copy_model(tmp_path):
    target = tmp_path / "model"
    shutil.copytree(TINY_MODEL, target)
    return target


def test_missing_file_is_named(tmp_path):
    model = _copy_model(tmp_path)
    (model / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match=r"lacks tokenizer\.json"):
        Embedder(str(model))


def test_key_and_shape_mismatches_list_the_offending_names(tmp_path):
    model = _copy_model(tmp_path)
    tensors = load_file(model / "model.safetensors")
    name = "roberta.encoder.layers.0.mlp.fc1.parametrizations.weight.original"
    tensors["roberta.encoder.layers.0.mlp.fc9.weight"] = tensors.pop(name)
    lora = "roberta.encoder.layers.1.mixer.Wqkv.parametrizations.weight.0.lora_A"
    tensors[lora] = torch.zeros(5, 3, 64)
    save_file(tensors, model / "model.safetensors")
    with pytest.raises(ModelLoadError) as info:
        Embedder(str(model))
    message = str(info.value)
    assert "missing tensors: encoder.layers.0.mlp.fc1.weight" in message
    assert "unexpected tensors: roberta.encoder.layers.0.mlp.fc9.weight" in message
    assert f"{lora}: checkpoint [5, 3, 64], model [5, 4, 64]" in message


def test_pickle_weights_are_never_loaded(tmp_path):
    model = _copy_model(tmp_path)
    (model / "model.safetensors").rename(model / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match=r"model\.safetensors"):
        Embedder(str(model))


def test_corrupt_safetensors(tmp_path):
    model = _copy_model(tmp_path)
    (model / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelLoadError, match="not a readable safetensors"):
        Embedder(str(model))


def test_unsupported_architecture_is_refused(tmp_path):
    model = _copy_model(tmp_path)
    config = json.loads((model / "config.json").read_text())
    config["position_embedding_type"] = "absolute"
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="position_embedding_type"):
        Embedder(str(model))


def test_bf16_checkpoint_loads(tmp_path):
    model = _copy_model(tmp_path)
    tensors = load_file(model / "model.safetensors")
    save_file({k: v.to(torch.bfloat16) for k, v in tensors.items()}, model / "model.safetensors")
    out = Embedder(str(model), dtype="float32").encode(golden("texts.json"), task="retrieval.query")
    expected = np.array(golden("embed_retrieval.query_0.json"))
    assert (out * expected).sum(axis=1).min() > 0.99


def test_hub_id_loads_from_the_hub_cache_offline(tmp_path, monkeypatch):
    # the layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<rev>/...}
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--jinaai--tiny-v3"
    shutil.copytree(TINY_MODEL, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = Embedder("jinaai/tiny-v3", cache_dir=str(tmp_path), dtype="float32")
    out = embedder.encode(golden("texts.json"))
    assert np.abs(out - np.array(golden("embed_none_0.json"))).max() <= 1e-5


def test_offline_without_a_copy_names_both_ways_out(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        Embedder("jinaai/jina-embeddings-v3", cache_dir=str(tmp_path))
    message = str(info.value)
    assert "model=<path" in message and "backend='api'" in message


def test_not_a_path_nor_a_hub_id(tmp_path):
    with pytest.raises(ModelLoadError, match="neither a checkpoint directory nor a hub id"):
        Embedder(str(tmp_path / "nowhere" / "at" / "all"))


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"jina-v3-connectors\[local\]"):
        Embedder(str(TINY_MODEL))


def test_remote_code_is_never_needed():
    # the tiny config's auto_map points at modelling code that does not exist: loading ignores it
    config = json.loads((TINY_MODEL / "config.json").read_text())
    assert "auto_map" in config
    assert not any(p.suffix == ".py" for p in TINY_MODEL.iterdir())
    assert Embedder(str(TINY_MODEL)).max_dimensions == 64

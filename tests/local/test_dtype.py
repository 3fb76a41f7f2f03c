"""The dtype a local embedder runs in: bf16 only where the hardware runs it natively, and a
warning when bf16 is asked for on a CPU that emulates it."""

from __future__ import annotations

import logging

import pytest
import torch

import jina_v3.local.backend as backend
import jina_v3.local.model as model
from jina_v3 import Embedder
from tests.conftest import TINY_MODEL


def _slow_bf16_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "slower than float32" in r.getMessage()]


def test_explicit_bf16_on_a_cpu_without_native_bf16_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(model, "_cpu_has_native_bf16", lambda: False)  # an AVX2-only CPU
    monkeypatch.setattr(backend, "_slow_bf16_warned", False, raising=False)
    with caplog.at_level(logging.WARNING, logger="jina_v3"):
        default = Embedder(str(TINY_MODEL), device="cpu")
        assert default.backend.dtype == torch.float32 and not _slow_bf16_warnings(caplog)
        asked = Embedder(str(TINY_MODEL), device="cpu", dtype="bfloat16")
        Embedder(str(TINY_MODEL), device="cpu", dtype="bf16")  # once per process
    assert asked.backend.dtype == torch.bfloat16  # what was asked for, only warned about
    [message] = _slow_bf16_warnings(caplog)
    assert "100 times" in message and "dtype='float32'" in message
    assert "--dtype float32" in message and "leave dtype unset" in message


def test_no_warning_where_the_cpu_runs_bf16(monkeypatch, caplog):
    monkeypatch.setattr(model, "_cpu_has_native_bf16", lambda: True)  # avx512_bf16 / amx_bf16
    monkeypatch.setattr(backend, "_slow_bf16_warned", False, raising=False)
    with caplog.at_level(logging.WARNING, logger="jina_v3"):
        assert Embedder(str(TINY_MODEL), device="cpu").backend.dtype == torch.bfloat16
        Embedder(str(TINY_MODEL), device="cpu", dtype="bfloat16")
    assert not _slow_bf16_warnings(caplog)


@pytest.mark.parametrize("dtype", ["float32", "fp32"])
def test_float32_never_warns(monkeypatch, caplog, dtype):
    monkeypatch.setattr(model, "_cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(backend, "_slow_bf16_warned", False, raising=False)
    with caplog.at_level(logging.WARNING, logger="jina_v3"):
        Embedder(str(TINY_MODEL), device="cpu", dtype=dtype)
    assert not _slow_bf16_warnings(caplog)

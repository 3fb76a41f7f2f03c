"""Progress reporting: opt-in on Embedder.encode (results unchanged), lines off a terminal."""

from __future__ import annotations

import io

import numpy as np

from jina_v3.progress import Progress


def test_encode_with_progress_reports_and_returns_the_same_vectors(tiny_embedder):
    texts = [f"text number {i} about item {i % 7}" for i in range(600)]
    out = io.StringIO()
    bar = Progress(len(texts), mode="lines", stream=out, interval=0.0, unit="text")
    with_progress = tiny_embedder.encode_passages(texts, dimensions=32, progress=bar)
    assert np.array_equal(with_progress, tiny_embedder.encode_passages(texts, dimensions=32))
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["256/600", "512/600", "600/600"]
    assert all("tokens/s" in line for line in lines) and bar.tokens > 0


def test_auto_mode_prints_lines_off_a_terminal_and_off_prints_nothing():
    out = io.StringIO()  # not a TTY
    bar = Progress(3, stream=out, interval=0.0)
    assert bar.mode == "lines"
    bar.update(1, points=2, tokens=10)
    bar.close("done: 1 document")
    assert out.getvalue().splitlines()[-1] == "done: 1 document"
    quiet = io.StringIO()
    off = Progress(3, mode="off", stream=quiet)
    off.update(3)
    off.close("summary")
    assert quiet.getvalue() == ""


def test_status_notes_print_as_lines_above_a_bar_and_not_when_off():
    for mode in ("lines", "bar"):
        out = io.StringIO()
        bar = Progress(3, mode=mode, stream=out)
        bar.note("on Ray: 2 embedding actors")
        bar.close()
        assert "on Ray: 2 embedding actors\n" in out.getvalue()
    quiet = io.StringIO()
    Progress(3, mode="off", stream=quiet).note("on Ray: 2 embedding actors")
    assert quiet.getvalue() == ""

"""An import never ends early in silence (issue 22, item 1): a file cut short is an error
naming the header's count; each line that cannot be imported (not JSON, no document id, a
vector of another size or with NaN, an id the engine refuses) is named FILE:LINE while the
rest of its page is written; a repeated id is one point, its last line, named; an import
that writes nothing leaves no collection behind."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest

from jina_v3.errors import ConfigurationError
from jina_v3.index.transfer import export_points, import_points, pages
from jina_v3.store import EmbeddingSignature, Record, point_id
from tests.connectors.conftest import FACTORIES

SIGNATURE = EmbeddingSignature(model="m", dimensions=8)


def _records(n: int) -> list[Record]:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        Record(point_id(f"doc-{i}", 0), vectors[i], f"text {i}", {"n": i}, f"doc-{i}", 0)
        for i in range(n)
    ]


@pytest.fixture
def exported(fast_tmp) -> list[str]:
    """The lines of an export of 12 points: the header, then one point a line."""
    source = FACTORIES["qdrant-memory"]("source", fast_tmp)
    source.ensure_collection(SIGNATURE)
    source.upsert(_records(12))
    out = io.StringIO()
    export_points(source, out)
    source.close()
    return out.getvalue().splitlines()


@pytest.fixture
def store(fast_tmp):
    made = FACTORIES["qdrant-memory"]("imported", fast_tmp)
    yield made
    made.close()


def _file(fast_tmp: Path, lines: list[str]) -> Path:
    path = Path(fast_tmp) / "points.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _warnings(caplog) -> list[str]:
    """What the import warned about (the library logs it; the CLI prints it)."""
    return [r.getMessage() for r in caplog.records if r.name == "jina_v3.transfer"]


def _stored(store) -> dict[str, Record]:
    return {r.id: r for page in pages(store) for r in page}


def test_a_file_cut_short_is_an_error_naming_the_header_count(exported, store, fast_tmp):
    path = _file(fast_tmp, exported[:6])  # the header and 5 of its 12 points
    with pytest.raises(ConfigurationError, match=r"5 points imported, but its header says 12 "
                       r"points and it holds 5 point lines \(cut short"):  # fmt: skip
        import_points(path, store)
    assert store.count() == 5  # what the file holds is written


def test_each_bad_line_is_named_and_the_rest_of_its_page_is_written(
    exported, store, fast_tmp, caplog
):
    point = json.loads(exported[3])
    no_document = {**point, "payload": {k: v for k, v in point["payload"].items()
                                        if k != "document_id"}}  # fmt: skip
    nan = json.loads(exported[4])
    nan["vectors"]["dense"] = base64.b64encode(np.full(8, np.nan, "<f4").tobytes()).decode()
    short = json.loads(exported[5])
    short["vectors"]["dense"] = base64.b64encode(np.ones(7, "<f4").tobytes()).decode()
    refused_id = {**json.loads(exported[6]), "id": "not-a-uuid"}  # Qdrant refuses it
    lines = [exported[0], *exported[1:3]]
    lines += [json.dumps(p) for p in (no_document, nan, short, refused_id)]
    lines += [*exported[7:-1], "{not json"]
    path = _file(fast_tmp, lines)
    with pytest.raises(ConfigurationError, match=rf"7 points imported, but 5 lines were not "
                       rf"imported \({path}:4, {path}:5, {path}:6, \.\.\.: fix"):  # fmt: skip
        import_points(path, store)
    assert _warnings(caplog) == [
        f'{path}:4: its payload has no "document_id" (a non-empty string); the line is not '
        "imported",
        f'{path}:5: its "dense" vector holds NaN or infinity; the line is not imported',
        f'{path}:6: its "dense" vector has 7 values; the collection\'s have 8 (8 float32 '
        "values); the line is not imported",
        f"{path}:13: not JSON (Expecting property name enclosed in double quotes at character "
        "1); the line is not imported",
        f"{path}:7: upsert on collection 'imported' failed: ValueError: Point id not-a-uuid is "
        "not a valid UUID; the line is not imported",
    ]
    stored = _stored(store)  # every good line of the page, nothing under an empty id
    good = exported[1:3] + exported[7:-1]
    assert sorted(stored) == sorted(json.loads(line)["id"] for line in good)
    assert all(r.document_id for r in stored.values())


def test_a_repeated_id_is_one_point_its_last_line(exported, store, fast_tmp, caplog):
    again = json.loads(exported[2])
    again["payload"]["text"] = "the later version"
    across = json.loads(exported[9])
    head = {**json.loads(exported[0]), "points": 14}
    lines = [json.dumps(head), *exported[1:4], json.dumps(again), *exported[4:], json.dumps(across)]
    path = _file(fast_tmp, lines)
    summary = import_points(path, store, page=4)
    assert summary.points == 12 == store.count()
    assert _stored(store)[again["id"]].text == "the later version"
    assert _warnings(caplog) == [
        f"{path}:5: repeats the point id of {path}:3; the later line is kept",
        f"{path}:15: repeats the point id of {path}:11; the later line is kept",
    ]


def test_an_import_that_writes_nothing_leaves_no_collection(exported, store, fast_tmp):
    lines = [exported[0], *("{}" for _ in exported[1:])]
    with pytest.raises(ConfigurationError, match=r"0 points imported, but 12 lines were not"):
        import_points(_file(fast_tmp, lines), store)
    assert store.read_signature() is None and store.collections() == []


def test_a_page_the_engine_refuses_wholly_names_its_lines_while_the_store_answers(
    exported, store, fast_tmp, caplog
):
    head = {**json.loads(exported[0]), "points": 3}
    refused = [
        {**json.loads(line), "id": f"not-a-uuid-{i}"} for i, line in enumerate(exported[2:4])
    ]
    lines = [json.dumps(head), exported[1], *map(json.dumps, refused)]
    path = _file(fast_tmp, lines)
    with pytest.raises(ConfigurationError, match=rf"1 point imported, but 2 lines were not "
                       rf"imported \({path}:3, {path}:4: fix"):  # fmt: skip
        import_points(path, store, page=1)
    assert store.count() == 1 and len(_warnings(caplog)) == 2

"""The indexing pipeline (what `jina-v3 index` runs) end to end against the bare embedder.

Both embed exactly the same chunks of the same corpus with the same model in one run: the bare
embedder through ``encode_passages`` (or ``encode_late_chunked``), the pipeline through
``VectorIndex.ingest`` into the default embedded store (reading and chunking files, content
hashes, planning, writing in the background). Per-stage times come from timing wrappers
around the pipeline's embedder and store. Medians over repetitions, fresh store each time.

    python benchmarks/index_pipeline.py [--model tests/fixtures/tiny-v3] [--docs 24]

By default the model is a full-size random checkpoint (as benchmarks/embed_throughput.py
builds), so the model costs what it costs in real use. The last line is one JSON object:
``pipeline_over_embedder`` (target >= 0.9) plus the stage times.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _full_size_checkpoint(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "embed_throughput", ROOT / "benchmarks" / "embed_throughput.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_checkpoint(folder)
    return folder


WORDS = (
    "river city harbour festival museum history bridge market science energy solar wind "
    "garden school music theatre library station railway mountain forest lake coast island "
    "bread cheese coffee recipe kitchen travel ticket student research climate ocean"
).split()


def write_corpus(folder: Path, docs: int, paragraphs: int, seed: int = 0) -> None:
    """Markdown files of a few sections each (deterministic)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for d in range(docs):
        sections = []
        for p in range(paragraphs):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
                for _ in range(rng.randint(4, 8))
            ]
            sections.append(f"## Section {p}\n\n" + " ".join(sentences))
        (folder / f"doc{d:03d}.md").write_text(f"# Document {d}\n\n" + "\n\n".join(sections))


class _Timed:
    """Forwards to `inner`, adding the seconds spent in the named methods to `times`."""

    def __init__(self, inner: Any, times: dict[str, float], methods: dict[str, str]) -> None:
        self._inner, self._times, self._methods = inner, times, methods

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        stage = self._methods.get(name)
        if stage is None:
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._times[stage] = self._times.get(stage, 0.0) + time.perf_counter() - started

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: full-size random)")
    parser.add_argument("--docs", type=int, default=16)
    parser.add_argument("--paragraphs", type=int, default=4)
    parser.add_argument("--chunk-tokens", type=int, default=128)
    parser.add_argument("--late-chunking", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from jina_v3 import Embedder
    from jina_v3.chunking import TextChunker
    from jina_v3.connectors.uris import DEFAULT_STORE_URI, open_store
    from jina_v3.index import VectorIndex
    from jina_v3.store import Document

    work = Path(tempfile.mkdtemp(prefix="jv3-pipeline-"))
    try:
        model = args.model or str(_full_size_checkpoint(work / "model"))
        write_corpus(work / "corpus", args.docs, args.paragraphs)
        embedder = Embedder(model, threads=args.threads)
        chunker = TextChunker.for_embedder(embedder, args.chunk_tokens)

        def read() -> list[Document]:
            files = sorted((work / "corpus").glob("*.md"))
            return [Document(f.name, f.read_text(), {"source": f.name}) for f in files]

        docs = read()
        chunks = [chunker(d.text) for d in docs]
        flat = [c for doc in chunks for c in doc]
        tokens = sum(n - 2 for n in embedder.backend.count_tokens(flat, "retrieval.passage"))
        embedder.encode_passages(flat[:8])  # warm up: adapters merged, weights packed

        def bare() -> float:
            started = time.perf_counter()
            if args.late_chunking:
                embedder.encode_late_chunked(chunks)
            else:
                embedder.encode_passages(flat)
            return time.perf_counter() - started

        def pipeline(run: int) -> tuple[float, dict[str, float], Any]:
            times: dict[str, float] = {}
            timed_embedder = _Timed(
                embedder,
                times,
                {"encode_passages": "embed_s", "encode_late_chunked": "embed_s"},
            )
            store = open_store(
                DEFAULT_STORE_URI.replace("./.jina-v3", str(work / f"store{run}")), "bench"
            )
            timed_store = _Timed(store, times, {"upsert": "write_s", "delete": "write_s"})
            index = VectorIndex(
                timed_embedder,
                timed_store,
                chunker=TextChunker.for_embedder(embedder, args.chunk_tokens),
                late_chunking=args.late_chunking,
            )
            started = time.perf_counter()
            t0 = time.perf_counter()
            documents = read()
            times["read_s"] = time.perf_counter() - t0
            summary = index.ingest(documents)
            wall = time.perf_counter() - started
            store.close()
            return wall, times, summary

        bare_runs, pipe_runs, stages = [], [], []
        summary = None
        for run in range(args.repeats):  # alternating which goes first: fair under noise
            if run % 2:
                bare_runs.append(bare())
            wall, times, summary = pipeline(run)
            pipe_runs.append(wall)
            stages.append(times)
            if not run % 2:
                bare_runs.append(bare())
        assert summary is not None and summary.points == len(flat), (summary, len(flat))
        bare_rate = tokens / statistics.median(bare_runs)
        pipe_rate = tokens / statistics.median(pipe_runs)
        result = {
            "pipeline_over_embedder": round(pipe_rate / bare_rate, 3),
            "pipeline_tokens_per_s": round(pipe_rate, 1),
            "embedder_tokens_per_s": round(bare_rate, 1),
            "tokens": tokens,
            "documents": len(docs),
            "chunks": len(flat),
            "store": DEFAULT_STORE_URI.split(":")[0],
            "model": "full-size random" if args.model is None else args.model,
            "late_chunking": args.late_chunking,
            "median_stage_s": {
                key: round(statistics.median(t.get(key, 0.0) for t in stages), 4)
                for key in ("read_s", "embed_s", "write_s")
            },
            "median_wall_s": {
                "pipeline": round(statistics.median(pipe_runs), 3),
                "embedder": round(statistics.median(bare_runs), 3),
            },
        }
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

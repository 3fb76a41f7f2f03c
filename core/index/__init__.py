"""Indexing: documents in, points in a vector store out, and search back.

- ``pipeline.py``: :class:`VectorIndex` / :class:`AsyncVectorIndex`, two thin twins over
  ``base.py``: the settings and the flows (batch, plan, embed, write; search), written once.
- ``plan.py``: the pure plan: which texts to embed, which point each vector fills, content
  hashes, the ingest summary.
- ``drivers.py``: the store's async view and the background writers.
- ``store.py``: the vocabulary every store speaks (``Document``, ``Record``, ``Hit``,
  ``EmbeddingSignature``, the store protocols, point ids).
- ``filters.py``: the metadata filter dialect and its reference evaluator.
- ``sources.py``: reading a corpus (files, ``.jsonl``) into documents with stable ids.
- ``project.py``: a project's settings file and root, which a file's identity is relative to.
- ``chunking.py``: the Markdown-aware chunker, counted in the model's tokens.
- ``formats.py``: PDF, DOCX, PPTX, XLSX and HTML to Markdown (the ``formats`` extra),
  within limits; ``_worker.py`` the bounded converter process, ``_markdown.py`` the
  conversions it runs, ``_charset.py`` HTML's encoding as the HTML standard sniffs it.
- ``transfer.py``: copy, export and import of stored points (no model); ``points_file.py``:
  the export format, its lines read strictly and written into a store line by line.

Public paths: ``jina_v3.store``, ``jina_v3.filters``, ``jina_v3.sources`` and
``jina_v3.chunking`` hold the public names (``__all__``) of the modules here. May import: the
foundations and the ``Embedder``; never ``cli``, ``distributed`` or a connector (stores come in
as objects).
"""

from jina_v3.index.pipeline import AsyncVectorIndex, IngestOptions, IngestSummary, VectorIndex

__all__ = ["AsyncVectorIndex", "IngestOptions", "IngestSummary", "VectorIndex"]

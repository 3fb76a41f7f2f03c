"""Haystack components for jina-embeddings-v3: the right task on each side of a pipeline.

    from haystack import Pipeline
    from haystack.components.preprocessors import DocumentSplitter
    from haystack.components.writers import DocumentWriter
    from jina_v3.connectors.haystack import JinaV3DocumentEmbedder, JinaV3TextEmbedder

    indexing = Pipeline()
    indexing.add_component("split", DocumentSplitter(split_by="word", split_length=100))
    indexing.add_component("embed", JinaV3DocumentEmbedder(dimensions=256, late_chunking=True))
    indexing.add_component("write", DocumentWriter(store))
    indexing.connect("split", "embed")
    indexing.connect("embed", "write")

- :class:`JinaV3TextEmbedder` embeds queries with ``retrieval.query``; output ``embedding`` and
  ``meta`` (model, token usage).
- :class:`JinaV3DocumentEmbedder` embeds documents with ``retrieval.passage``; output
  ``documents`` (new objects, the inputs are never mutated) and ``meta``. With
  ``late_chunking=True`` the splits of one source document (``source_id``, written by
  ``DocumentSplitter``) are embedded together in split order, one source per pass.
- :class:`JinaV3DimensionGuard` sits before a ``DocumentWriter`` and refuses documents whose
  embedding size differs from the document store's (``check_document_store`` is the same check
  as a function).

Both embedders take either an existing :class:`~jina_v3.Embedder` / :class:`~jina_v3.AsyncEmbedder`
(``embedder=``; not serialisable) or the settings that make one (serialisable with
``to_dict`` / ``from_dict``; the API key only ever as a ``Secret``). Construction does no I/O:
``warm_up()`` loads the local model (``Pipeline`` calls it), ``close()`` releases it.

Modules: :mod:`.embedders` (the two embedders, on :mod:`._base`), :mod:`.guard` (the guard). The
components serialise under this package's path (``jina_v3.connectors.haystack.<Class>``), so
``Pipeline.loads(..., allowed_modules=["jina_v3.connectors.haystack"])`` loads them.

May import: ``haystack``, :mod:`jina_v3.connectors.base` and ``jina_v3``; never an engine's
package (document stores come in as objects).
"""

from jina_v3.connectors.base.common import require

require("haystack", "haystack", "haystack-ai")

from jina_v3.connectors.base.framework import DEFAULT_API_KEY_ENV  # noqa: E402, F401
from jina_v3.connectors.haystack.embedders import (  # noqa: E402
    JinaV3DocumentEmbedder,
    JinaV3TextEmbedder,
)
from jina_v3.connectors.haystack.guard import (  # noqa: E402
    JinaV3DimensionGuard,
    check_document_store,
    document_store_dimension,
)
from jina_v3.connectors.haystack.sparse import (  # noqa: E402
    JinaV3SparseDocumentEmbedder,
    JinaV3SparseTextEmbedder,
)

__all__ = [
    "JinaV3DimensionGuard",
    "JinaV3DocumentEmbedder",
    "JinaV3SparseDocumentEmbedder",
    "JinaV3SparseTextEmbedder",
    "JinaV3TextEmbedder",
    "check_document_store",
    "document_store_dimension",
]

"""What jina-embeddings-v3 is: its five task adapters (and their validation), names and sizes."""

from __future__ import annotations

import difflib
from typing import Literal

from jina_v3.errors import UnknownTaskError

Task = Literal[
    "retrieval.query", "retrieval.passage", "separation", "classification", "text-matching"
]

#: Adapter order of the checkpoint (`lora_adaptations`): index = adapter id.
TASKS: tuple[str, ...] = (
    "retrieval.query",
    "retrieval.passage",
    "separation",
    "classification",
    "text-matching",
)

#: Names other libraries use for the same adapters.
_ALIASES = {
    "clustering": "separation",
    "cluster": "separation",
    "query": "retrieval.query",
    "retrieval_query": "retrieval.query",
    "passage": "retrieval.passage",
    "document": "retrieval.passage",
    "retrieval_passage": "retrieval.passage",
    "sts": "text-matching",
    "similarity": "text-matching",
    "text_matching": "text-matching",
}


def check_task(task: str | None) -> str | None:
    """Return `task` unchanged if valid (None = no adapter); else raise with a suggestion."""
    if task is None or task in TASKS:
        return task
    if not isinstance(task, str):
        raise UnknownTaskError(f"task must be a string or None, got {type(task).__name__}")
    suggestion = _ALIASES.get(task.strip().lower().replace(" ", ""))
    if suggestion is None:
        close = difflib.get_close_matches(task, TASKS, n=1, cutoff=0.5)
        suggestion = close[0] if close else None
    hint = f" Did you mean task={suggestion!r}?" if suggestion else ""
    raise UnknownTaskError(
        f"Unknown task {task!r}. Valid values of `task`: {', '.join(TASKS)}, "
        f"or None for the plain backbone.{hint}"
    )


#: jina-embeddings-v3's full size, and the instructions its API prepends (config.json).
V3_DIMENSIONS = 1024
V3_INSTRUCTIONS = {
    "retrieval.query": "Represent the query for retrieving evidence documents: ",
    "retrieval.passage": "Represent the document for retrieval: ",
}
#: Tokens v3 reads in one sequence between <s> and </s> (8194 positions with them).
V3_CONTEXT_TOKENS = 8192
V3_NAME = "jina-embeddings-v3"
V3_NAMES = (V3_NAME, "jinaai/jina-embeddings-v3")
#: The official checkpoint's shapes: (hidden size, layers, vocabulary).
V3_SHAPES = (1024, 24, 250002)


def model_identity(name: str, shapes: tuple[int, int, int] | None = None) -> str:
    """The name a collection's signature records for a model, whichever backend runs it.

    The official weights are ``jina-embeddings-v3`` under either spelling; a local checkpoint
    counts as official only if its `shapes` (hidden size, layers, vocabulary) are v3's too.
    Any other model keeps its own name, so a different checkpoint is still told apart.
    """
    if name in V3_NAMES and (shapes is None or tuple(shapes) == V3_SHAPES):
        return V3_NAME
    return name


def known_dimensions(model: str) -> int | None:
    """The full size of a model known by name (None: learn it from a response)."""
    return V3_DIMENSIONS if model in V3_NAMES else None

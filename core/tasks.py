"""The five task adapters of jina-embeddings-v3 and their validation."""

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

"""The other dialects `jina-v3 serve` speaks, and how a request without `task` gets one.

The Jina API is the server's own contract (:mod:`jina_v3.remote.wire` holds both halves of
it). RAG platforms reach an embeddings server in two more ways, translated here into the same
:class:`~jina_v3.remote.wire.EmbeddingRequest`, so one validator and one pipeline serve all:

- **TEI** (text-embeddings-inference: RAGFlow's HuggingFace provider, LangChain's
  ``HuggingFaceEndpointEmbeddings``, Haystack's ``HuggingFaceAPITextEmbedder``, LlamaIndex's
  ``TextEmbeddingsInference``): ``POST /embed`` with ``inputs``, ``normalize``, ``truncate``,
  ``prompt_name`` (the task), answered with a bare list of vectors; ``GET /info``.
- **OpenAI-style** clients (Dify's OpenAI-compatible plugin, LiteLLM, the ``openai`` SDK) send
  only ``model`` and ``input`` to ``POST /v1/embeddings``: :class:`TaskRouting` lets the model
  name carry the task (``jina-embeddings-v3-query``), or a text prefix where a platform can
  only prepend text. An explicit ``task`` field keeps working (open-webui sends it).

These dialects exist only on the server side (no client of this package speaks them), so they
live in the server layer; everything here is pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jina_v3._encoding import finish
from jina_v3.errors import ConfigurationError
from jina_v3.remote import wire
from jina_v3.remote.wire import EmbeddingRequest, RequestError
from jina_v3.tasks import TASKS, V3_NAME, check_task

__all__ = [
    "DEFAULT_TASK_MODELS",
    "PROMPT_NAMES",
    "TaskRouting",
    "check_model",
    "parse_tei",
    "render_tei",
    "route_task",
    "served_names",
    "tei_error",
    "tei_info",
]

#: Served model names that carry a task (OpenAI-style clients send only `model`).
DEFAULT_TASK_MODELS: Mapping[str, str] = {
    f"{V3_NAME}-query": "retrieval.query",
    f"{V3_NAME}-passage": "retrieval.passage",
    f"{V3_NAME}-separation": "separation",
    f"{V3_NAME}-classification": "classification",
    f"{V3_NAME}-text-matching": "text-matching",
}

#: TEI `prompt_name` values: the task names, and the short names TEI users know.
PROMPT_NAMES: Mapping[str, str] = {
    **{task: task for task in TASKS},
    "query": "retrieval.query",
    "passage": "retrieval.passage",
    "document": "retrieval.passage",
}


@dataclass(frozen=True)
class TaskRouting:
    """How a request picks its task when the client cannot send a ``task`` field.

    Args:
        models: Served model name -> task (default :data:`DEFAULT_TASK_MODELS`).
        prefixes: Text prefix -> task (default none). A request whose inputs start with a
            configured prefix is embedded with its task; the prefix (and the whitespace after
            it) is removed first, so the model sees the text alone. All inputs of such a
            request must carry prefixes of one task.

    Raises:
        ConfigurationError: An unknown task, or an empty model name or prefix.
    """

    models: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TASK_MODELS))
    prefixes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, mapping in (("task model name", self.models), ("task prefix", self.prefixes)):
            for key, task in mapping.items():
                if not isinstance(key, str) or not key:
                    raise ConfigurationError(f"A {what} must be a non-empty string, got {key!r}")
                if task is None:
                    raise ConfigurationError(f"The {what} {key!r} maps to no task; name one.")
                check_task(task)
        # the longest prefix wins ("query: long" before "query: ")
        ordered = dict(sorted(self.prefixes.items(), key=lambda kv: -len(kv[0])))
        object.__setattr__(self, "prefixes", ordered)
        object.__setattr__(self, "models", dict(self.models))

    def prefix_task(self, texts: list[str]) -> tuple[str | None, list[str]]:
        """The task the inputs' prefixes name (None: no prefix) and the texts without them.

        Raises:
            RequestError: 400 when some inputs carry a prefix and others do not, or their
                prefixes name different tasks.
        """
        if not self.prefixes:
            return None, texts
        found = [next((p for p in self.prefixes if t.startswith(p)), None) for t in texts]
        if all(p is None for p in found):
            return None, texts
        tasks = {self.prefixes[p] for p in found if p is not None}
        if None in found or len(tasks) > 1:
            listing = ", ".join(f"{p!r} -> {t}" for p, t in self.prefixes.items())
            raise RequestError(
                400,
                "The inputs of one request must all carry a task prefix of the same task, or "
                f"none (configured prefixes: {listing}). Send one request per task.",
            )
        stripped = [t[len(p or "") :].lstrip() for t, p in zip(texts, found, strict=True)]
        return tasks.pop(), stripped


def served_names(served: str, aliases: set[str], routing: TaskRouting) -> list[str]:
    """Every `model` value this server accepts, sorted."""
    return sorted({served, *aliases, *routing.models})


def check_model(model: Any, names: list[str]) -> None:
    """400 naming every served model when `model` (a string, or None: the default) is not one."""
    if model is None or not isinstance(model, str) or model in names:
        return  # a non-string is the contract's own 422
    raise RequestError(
        400,
        f"Model {model!r} is not served here; this server serves {', '.join(names)} "
        "(a name ending in a task embeds with that task).",
    )


def route_task(req: EmbeddingRequest, routing: TaskRouting, *, field_name: str = "task") -> None:
    """Settle `req.task` from its explicit field, its model name and its texts' prefixes
    (prefixes stripped from `req.texts`); the sources that are present must agree.

    Raises:
        RequestError: 400 when two sources name different tasks.
    """
    chosen: dict[str, str] = {}
    if req.task is not None:
        chosen[f"`{field_name}`"] = req.task
    model_task = routing.models.get(req.model)
    if model_task is not None:
        chosen[f"the model name {req.model!r}"] = model_task
    prefix_task, req.texts = routing.prefix_task(req.texts)
    if prefix_task is not None:
        chosen["the text prefix"] = prefix_task
    if len(set(chosen.values())) > 1:
        said = "; ".join(f"{source} says {task}" for source, task in chosen.items())
        raise RequestError(400, f"Conflicting tasks: {said}. Name the task one way only.")
    if chosen:
        req.task = next(iter(chosen.values()))


# -- TEI ------------------------------------------------------------------------------------

#: TEI's field names for the contract's (error messages speak the client's dialect).
_TEI_NAMES = (("`input`", "`inputs`"), ("input[", "inputs["), ("`normalized`", "`normalize`"))


def parse_tei(doc: Any, *, served: str, max_dims: int) -> EmbeddingRequest:
    """A TEI ``/embed`` body as an :class:`EmbeddingRequest` (validated by the contract).

    ``prompt_name`` names the task (:data:`PROMPT_NAMES`); ``normalize`` defaults to true,
    ``truncate`` to false, as in TEI.
    """
    if not isinstance(doc, dict):
        raise RequestError(422, "The request body must be a JSON object.")
    prompt = doc.get("prompt_name")
    if prompt is not None and prompt not in PROMPT_NAMES:
        raise RequestError(
            400,
            f"Unknown prompt_name {prompt!r}; this server knows {', '.join(PROMPT_NAMES)} "
            "(each selects that task).",
        )
    direction = doc.get("truncation_direction")
    if direction is not None and str(direction).lower() != "right":
        raise RequestError(422, "Only truncation_direction 'right' is supported.")
    if "inputs" not in doc:
        raise RequestError(422, "`inputs` is required: a string or a list of strings.")
    contract = {
        "model": served,
        "input": doc["inputs"],
        "task": PROMPT_NAMES.get(prompt) if prompt is not None else None,
        "normalized": doc.get("normalize"),
        "truncate": doc.get("truncate"),
        "dimensions": doc.get("dimensions"),
    }
    try:
        return wire.parse_request(contract, served=served, aliases={served}, max_dims=max_dims)
    except RequestError as exc:
        detail = exc.detail
        for ours, theirs in _TEI_NAMES:
            detail = detail.replace(ours, theirs)
        raise RequestError(exc.status, detail, exc.headers) from None


def render_tei(req: EmbeddingRequest, pooled: np.ndarray) -> bytes:
    """TEI's answer: a bare list of float vectors, one per input."""
    return wire.dumps(finish(pooled, req.dimensions, req.normalized, "float").tolist())


def tei_error(status: int, detail: str) -> dict[str, str]:
    """TEI's error body."""
    kinds = {413: "Validation", 422: "Validation", 400: "Validation", 429: "Overloaded"}
    return {"error": detail, "error_type": kinds.get(status, "Backend")}


def tei_info(served: str, *, max_tokens: int, max_batch_tokens: int, dtype: str) -> dict[str, Any]:
    """TEI's ``GET /info`` for this server."""
    return {
        "model_id": served,
        "model_sha": None,
        "model_dtype": dtype,
        "model_type": {"embedding": {"pooling": "mean"}},
        "max_concurrent_requests": None,
        "max_input_length": max_tokens,
        "max_batch_tokens": max_batch_tokens,
        "max_batch_requests": None,
        "max_client_batch_size": wire.MAX_INPUTS,
        "tokenization_workers": None,
        "version": "jina-v3-serve",
        "prompt_names": list(PROMPT_NAMES),
    }

"""`jina-v3 --version`: the package's version, and with ``--verbose`` Python's and those of
the engines and libraries installed beside it (what a bug report needs)."""

from __future__ import annotations

import platform
from importlib import metadata

import jina_v3

# distribution names, in the order of the README's extras table
_COMPONENTS = (
    "numpy",
    "torch",
    "tokenizers",
    "qdrant-edge-py",
    "qdrant-client",
    "pymilvus",
    "milvus-lite",
    "pinecone",
    "haystack-ai",
    "llama-index-core",
    "fastapi",
    "uvicorn",
    "ray",
)


def version_text(verbose: bool = False) -> str:
    """``jina-v3 VERSION``, then one ``name version`` line per component when verbose."""
    lines = [f"jina-v3 {jina_v3.__version__}"]
    if verbose:
        lines.append(f"python {platform.python_version()}")
        for name in _COMPONENTS:
            try:
                lines.append(f"{name} {metadata.version(name)}")
            except metadata.PackageNotFoundError:
                lines.append(f"{name} not installed")
    return "\n".join(lines) + "\n"

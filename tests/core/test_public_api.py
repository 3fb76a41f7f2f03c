"""The public surface stays small and explicit, and importing it stays cheap."""

import subprocess
import sys

import jina_v3


def test_all_is_sorted_and_lists_every_public_name():
    public = {name for name in vars(jina_v3) if not name.startswith("_") and name[0].isupper()}
    assert public == set(jina_v3.__all__)
    # ruff (RUF022) order: CONSTANTS first, then the rest alphabetically
    assert jina_v3.__all__ == sorted(jina_v3.__all__, key=lambda n: (not n.isupper(), n))


def test_import_loads_no_heavy_dependency_and_no_connector():
    code = (
        "import sys, jina_v3; heavy = ('torch', 'tokenizers', 'qdrant_client', 'pymilvus', "
        "'pinecone', 'fastapi', 'jina_v3.connectors'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""The ``jina-v3`` command line.

- ``main.py``: the parser, ``main`` (one line per error, exit codes), and the ``embed`` and
  ``serve`` commands.
- ``index.py``: the main job: ``index``, ``search``, ``info`` and ``delete`` on a collection.
- ``by_source.py``: documents selected by their files (``index --prune``, ``delete --source``).
- ``format.py``: how results are printed (the search table, snippets, ``--json``).
- ``config.py``: the settings file (``jina-v3.toml`` / ``[tool.jina-v3]``) and each setting's
  origin; ``about.py``: ``--version``.
- ``collection.py``: ``ls``, ``copy``, ``export`` and ``import`` (no model involved).
- ``mcp.py``: ``mcp``: the settings, store and model behind :mod:`jina_v3.mcp`'s tools.

May import anything below it: the foundations, ``index``, ``server``, ``distributed`` and the
connectors (store URIs). Nothing imports the CLI but :mod:`jina_v3.mcp`, the layer beside it
(its tools reuse ``ls``, the one-line errors and ``delete --source``'s selector).
"""

from jina_v3.cli.main import build_parser, describe, main

__all__ = ["build_parser", "describe", "main"]

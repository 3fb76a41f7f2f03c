"""``jina-v3 mcp``: a collection as tools for AI agents, over the Model Context Protocol.

- ``schemas.py``: the tools as agents see them (names, descriptions, JSON schemas): pure data.
- ``tools.py``: the calls: arguments checked, the index and the store called, the results,
  and every failure as one line in an ``isError`` result.
- ``shared.py``: what concurrent calls share: the model through the server's dynamic batcher,
  the store one call at a time.
- ``transports.py``: the SDK's server over the tools; stdio (stdout kept for the protocol)
  and streamable HTTP (with ``jina-v3 serve``'s key check).

The top layer, beside the CLI: built on the CLI's settings, its one-line errors and ``ls``,
on ``index``, ``server`` and the store URIs. Only the CLI's ``mcp`` command imports it; it
needs the ``mcp`` extra (the MCP SDK).
"""

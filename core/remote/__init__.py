"""The hosted-API client: jina-embeddings-v3 through Jina's HTTP API (or ``jina-v3 serve``).

- ``wire.py``: the API's contract, both halves and without I/O: payloads, response checks,
  error mapping (client); request parsing and response rendering (server).
- ``exchange.py``: the decisions around a request: planning batches within the API's limits,
  the retry policy, and one request with its retries as a single flow.
- ``backend.py``: :class:`RemoteBackend`, configuration plus the two thin drivers (httpx sync
  and async) of that flow.

May import: the foundations. ``server`` imports ``wire`` and ``exchange`` from here.
"""

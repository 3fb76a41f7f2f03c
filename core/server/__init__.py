"""``jina-v3 serve``: an HTTP server speaking the hosted API's protocol over any backend.

- ``app.py``: the ASGI app (:func:`create_app`), its routes and connection limits, and
  :func:`serve`.
- ``dialects.py``: TEI's requests and answers, and how a request without ``task`` gets one
  (task-carrying model names, text prefixes): pure, beside the Jina contract in ``remote``.
- ``batcher.py``: the dynamic batcher that merges concurrent requests into model batches.

May import: the foundations, ``remote`` (the wire contract) and the ``Embedder``.
"""

from jina_v3.server.app import *  # noqa: F403 - the public names, listed once there
from jina_v3.server.app import __all__  # noqa: F401

"""Scale-out on Ray Data: :func:`index_dataset` and ``jina-v3 index --ray``.

- ``driver.py``: what runs on the driver: the dataset plan, the signature check before any
  worker starts, resources, the summary and progress.
- ``workers.py``: what runs in Ray: chunking tasks, the embed-and-write actors (each runs the
  single-machine ``VectorIndex.ingest``), the owner actor of an embedded store, the token
  bucket.
- ``failures.py``: which errors are transient (retried), and a worker's library error
  unwrapped from Ray's wrappers on the driver.

May import: the foundations, ``index``, the ``Embedder`` and the connectors' store URIs.
"""

from jina_v3.distributed.driver import *  # noqa: F403 - the public names, listed once there
from jina_v3.distributed.driver import __all__  # noqa: F401

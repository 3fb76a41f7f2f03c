"""Scale-out on Ray Data: :func:`index_dataset` and ``jina-v3 index --ray``.

- ``driver.py``: what runs on the driver: the dataset plan, the signature check before any
  worker starts, resources, the summary and progress.
- ``workers.py``: what runs in Ray: chunking tasks, the embed-and-write actors (each runs the
  single-machine ``VectorIndex.ingest``), the owner actor of an embedded store, the token
  bucket.
- ``cluster.py``: Ray itself: connecting (loopback for a local instance), the stores one
  process owns and their owner actor, how many actors run and what each reserves.
- ``failures.py``: which errors are transient (retried), and a worker's library error
  unwrapped from Ray's wrappers on the driver.
- ``notes.py``: the library's warnings on a worker, sent back with its results and printed
  once each by the driver.

May import: the foundations, ``index``, the ``Embedder`` and the connectors' store URIs.
"""

from jina_v3.distributed.driver import *  # noqa: F403 - the public names, listed once there
from jina_v3.distributed.driver import __all__  # noqa: F401

"""Public path of the store vocabulary (Document, Record, Hit, the signature, the store protocols).

The code lives in :mod:`jina_v3.index.store`; this name is that same module, so every name,
patch and pickle is shared between the two paths.
"""

import sys

from jina_v3.index import store as _module

sys.modules[__name__] = _module

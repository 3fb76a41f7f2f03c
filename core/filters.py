"""Public path of the metadata filter dialect.

The code lives in :mod:`jina_v3.index.filters`; this name is that same module, so every name,
patch and pickle is shared between the two paths.
"""

import sys

from jina_v3.index import filters as _module

sys.modules[__name__] = _module

"""Public path of the corpus reader.

The code lives in :mod:`jina_v3.index.sources`; this name is that same module, so every name,
patch and pickle is shared between the two paths.
"""

import sys

from jina_v3.index import sources as _module

sys.modules[__name__] = _module

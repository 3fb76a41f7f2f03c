"""Public path of the chunker.

The code lives in :mod:`jina_v3.index.chunking`; this name is that same module, so every name,
patch and pickle is shared between the two paths.
"""

import sys

from jina_v3.index import chunking as _module

sys.modules[__name__] = _module

"""Public path of the corpus reader: the public names (``__all__``) of
:mod:`jina_v3.index.sources`, where the code lives; the same objects, so pickles and
``isinstance`` agree between the two paths. Patch a name where it is looked up, in that module.
"""

from jina_v3.index.sources import *  # noqa: F403  (its __all__: always in step with the module)
from jina_v3.index.sources import __all__  # noqa: F401

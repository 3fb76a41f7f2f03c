"""Public path of the metadata filter dialect: the public names (``__all__``) of
:mod:`jina_v3.index.filters`, where the code lives; the same objects, so pickles and
``isinstance`` agree between the two paths. Patch a name where it is looked up, in that module.
"""

from jina_v3.index.filters import *  # noqa: F403  (its __all__: always in step with the module)
from jina_v3.index.filters import __all__  # noqa: F401

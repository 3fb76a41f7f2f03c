"""``python -m jina_v3.cli``: the same as the ``jina-v3`` command."""

from jina_v3.cli.main import main

raise SystemExit(main())

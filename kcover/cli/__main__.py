"""``python -m kcover.cli``: the ``kcover`` command."""

import sys

from kcover.cli import main

sys.exit(main())

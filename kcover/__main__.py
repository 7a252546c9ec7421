"""``python -m kcover`` runs the command line."""

import sys

from kcover.cli import main

sys.exit(main())

"""``python -m kcover.cli``: the ``kcover`` command."""

from kcover.cli import run_and_exit

run_and_exit()

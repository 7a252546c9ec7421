"""``python -m kcover`` runs the command line."""

from kcover.cli import run_and_exit

run_and_exit()

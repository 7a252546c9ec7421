import os
import tempfile

# The command line keeps JAX's compiled programs on disk (kcover.cli.enable_compile_cache). Tests run
# the CLI in this process and in subprocesses; give the whole session its own cache folder so that a
# test never reads entries another run left behind (a killed run's half-written entry crashed one).
os.environ.setdefault("KCOVER_COMPILE_CACHE", tempfile.mkdtemp(prefix="kcover-test-jax-"))

import jax
import pytest


@pytest.fixture
def x64():
    """Run a test with 64-bit floats enabled (float64 references)."""
    with jax.enable_x64(True):
        yield

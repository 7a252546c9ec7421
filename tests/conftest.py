import os
import tempfile

# The command line keeps JAX's compiled programs on disk (kcover.cli.enable_compile_cache). Tests run
# the CLI in this process and in subprocesses; give the whole session its own cache folder so that a
# test never reads entries another run left behind (a killed run's half-written entry crashed one).
os.environ.setdefault("KCOVER_COMPILE_CACHE", tempfile.mkdtemp(prefix="kcover-test-jax-"))
# The default suite crashed twice inside XLA's compiler (a segmentation fault, late in the session)
# with faiss loaded in the same process; faiss's wheel brings its own OpenMP and OpenBLAS. The test
# process keeps faiss out (the kNN path falls back to the JAX lists); the faiss tests run it in a
# fresh process of their own (tests/core/test_approximate.py).
os.environ.setdefault("KCOVER_FAISS", "off")

import jax
import pytest


@pytest.fixture
def x64():
    """Run a test with 64-bit floats enabled (float64 references)."""
    with jax.enable_x64(True):
        yield

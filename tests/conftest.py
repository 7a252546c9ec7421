import os

# The command line keeps JAX's compiled programs on disk (kcover.cli.enable_compile_cache). Tests run
# the CLI in this process and in subprocesses; the test session keeps that cache off, so that no test
# reads entries another run left behind and the session does not write one per compiled program
# (tests/cli/test_cli_select_flags.py checks the cache on its own folder). The suite crashed three
# times inside XLA's CPU compiler late in a session; two of those runs had faiss loaded, one did not,
# so the test process also keeps faiss out (its checks run in a fresh process) and drops compiled
# programs between modules (below).
os.environ.setdefault("KCOVER_COMPILE_CACHE", "off")
os.environ.setdefault("KCOVER_FAISS", "off")

import jax
import pytest


@pytest.fixture
def x64():
    """Run a test with 64-bit floats enabled (float64 references)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(autouse=True, scope="module")
def _fresh_compilations():
    """Drop JAX's compiled programs after each test module: a session compiles thousands."""
    yield
    jax.clear_caches()

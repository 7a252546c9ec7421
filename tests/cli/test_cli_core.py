import json
import subprocess
import sys

import pytest

from kcover.cli import main


def test_quickstart_prints_picks_and_objective(capsys):
    assert main(["quickstart", "--n", "400", "--dim", "4", "--modes", "5", "--k", "10"]) == 0
    out = capsys.readouterr().out
    assert "picked (first 10, in order):" in out
    assert "facility-location objective F(S)" in out
    assert "modes covered: 5/5" in out


def test_bad_input_is_one_line_and_exit_code_2(capsys):
    assert main(["quickstart", "--n", "50", "--k", "51"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["kcover quickstart: error: k: asks for 51 points but only 50 candidates are available"]


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "kcover", "--help"], capture_output=True, text=True, check=True)
    assert "quickstart" in out.stdout


@pytest.mark.parametrize(
    ("argv", "code"), [(["quickstart", "--n", "60", "--k", "3"], 0), (["quickstart", "--n", "50", "--k", "51"], 2)]
)
def test_the_executable_skips_teardown_but_runs_exit_handlers_and_keeps_its_code(argv, code):
    # run_and_exit leaves with os._exit: the output must be complete, the exit handlers registered
    # by anyone (JAX's clean-up, logging, here a test's) must still run, and the exit code must survive
    script = (
        "import atexit; atexit.register(lambda: print('handler ran'));"
        f"from kcover.cli import run_and_exit; run_and_exit({argv!r})"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == code, out.stderr
    assert out.stdout.rstrip().endswith("handler ran")
    if code == 0:
        assert "facility-location objective" in out.stdout
    else:
        assert "error: k:" in out.stderr


def test_kcover_select_does_not_import_what_it_does_not_use():
    # start-up is part of every command's time: the probe's optimiser (optax, 70 ms) loads only
    # when a probe is fitted, and ml_dtypes 0.7 (0.43 s to import) is kept out by pyproject.toml
    # flax is the encoders' dependency (the experiments extra), never the core's
    script = (
        "import json, sys, kcover, kcover.cli, kcover.cli.select, kcover.cli.advise, ml_dtypes; "
        "kcover.cli.build_parser(); "
        "print(json.dumps([[m for m in ('optax', 'flax') if m in sys.modules], ml_dtypes.__version__]))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    loaded, version = json.loads(out.stdout)
    assert loaded == []
    assert tuple(int(p) for p in version.split(".")[:2]) < (0, 7)

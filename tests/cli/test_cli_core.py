import subprocess
import sys

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

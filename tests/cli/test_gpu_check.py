"""benchmarks/gpu_check.sh end to end on the CPU at tiny sizes: every step runs and writes its output."""

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # encoders with the shipped weights and the vision driver, end to end

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # 2 min on 2 cores: the script is for the day a GPU is lent; run with -m slow
def test_the_gpu_check_runs_every_step_small_on_the_cpu(tmp_path):
    pytest.importorskip("mlxtend")
    out = tmp_path / "check"
    env = {**os.environ, "GPU_CHECK_SMALL": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr
    summary = (out / "summary.txt").read_text().splitlines()
    assert [line.split()[0] for line in summary] == ["gpu_scale", "encoders", "vision", "tests", "select_1m"]
    bad = [line for line in summary if line.split()[1] != "ok"]
    assert not bad, "\n".join(bad) + "\n" + "".join((out / f"{b.split()[0]}.log").read_text()[-2000:] for b in bad)
    scale = json.loads((out / "gpu_scale.json").read_text())
    assert scale["similarity_columns"] > 0 and scale["n"] == 3000
    assert (out / "vision" / "table1.md").exists()
    assert "passed" in (out / "tests.txt").read_text()
    assert '"info": {' in (out / "select_1m.log").read_text()

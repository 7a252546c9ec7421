"""``kcover theory mode|law|knob``: files, JSON keys, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from kcover.cli import main
from kcover.theory.cli import run_law, run_mode
from kcover.theory.mode_render import render_mode
from kcover.theory.summaries import mode_summary

DOCS = Path(__file__).resolve().parents[2] / "docs" / "theory.md"


def _files(out, name):
    png, md, js = out / f"{name}.png", out / f"{name}.md", out / f"{name}.json"
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert md.read_text().startswith("# kcover theory")
    return json.loads(js.read_text())


def test_knob_command(tmp_path, capsys):
    assert main(["theory", "knob", "--out", str(tmp_path), "--seeds", "1"]) == 0
    rec = _files(tmp_path, "knob")
    assert len(rec["alpha"]) == len(rec["adv_mean"]) == len(rec["adv_std"]) == 11
    assert rec["alpha"][0] == 0.0 and rec["alpha"][-1] == 1.0
    assert rec["adv_mean"][0] == 0.0 and rec["adv_mean"][-1] > 0.2
    out = capsys.readouterr().out
    assert "paper" in out and "-0.06" in out and "+0.94" in out


def test_mode_command_reduced(tmp_path):
    paths, lines = run_mode(
        tmp_path, 1, r=4, n=3, deltas=(0.0, 0.5, 1.0), orders=("mode-major", "shuffled"), progress=False
    )
    rec = _files(tmp_path, "mode")
    inst = rec["instances"]
    assert inst and all({"adv_measured", "adv_predicted", "k", "delta_frac", "rho", "order"} <= set(x) for x in inst)
    exact = [x for x in inst if x["exact_model"]]
    assert max(abs(x["adv_measured"] - x["adv_predicted"]) for x in exact) <= 1e-6
    assert rec["summary"]["exact_block_within_tolerance"] is True
    assert any("paper" in line for line in lines)


def test_law_command_reduced(tmp_path):
    run_law(tmp_path, 1, r=4, n=3, deltas=(0.0, 1.0), orders=("mode-major",), progress=False)
    rec = _files(tmp_path, "law")
    assert isinstance(rec["c_empirical"], float)
    assert isinstance(rec["violations"], list) and rec["violations"]
    assert {"kind", "kernel", "k", "adv", "bound"} <= set(rec["violations"][0])


@pytest.mark.parametrize("argv", [["theory", "knob", "--seeds", "0"], ["theory", "mode", "--seeds", "-2"]])
def test_bad_seeds_exit_2(argv, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert "seeds:" in capsys.readouterr().err


def test_out_must_be_a_folder(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["theory", "knob", "--seeds", "1", "--out", str(f)]) == 2
    assert "out:" in capsys.readouterr().err


def test_unknown_command_is_rejected():
    with pytest.raises(SystemExit):
        main(["theory", "nope"])


def test_summary_is_pure_and_the_renderer_writes_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rec = mode_summary(1, r=4, n=3, deltas=(0.0, 1.0), orders=("mode-major", "shuffled"), progress=False)
    assert list(tmp_path.iterdir()) == []  # the summary writes nothing
    assert {"command", "paper", "config", "summary", "instances"} == set(rec)
    paths, lines = render_mode(tmp_path / "out", rec)
    assert [p.name for p in paths] == ["mode.png", "mode.md", "mode.json"]
    js = json.loads(paths[2].read_text())
    assert set(js) == set(rec) and len(js["instances"]) == len(rec["instances"])
    assert js["config"]["ks"] == rec["config"]["ks"].tolist() and js["summary"] == rec["summary"]
    assert "docs/theory.md" in paths[1].read_text() and any("paper" in line for line in lines)


def test_a_run_of_one_order_renders_without_an_empty_legend(tmp_path):
    rec = mode_summary(1, r=4, n=3, deltas=(0.0, 1.0), orders=("mode-major",), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns on a legend with nothing to show
        paths, _ = render_mode(tmp_path, rec)
    assert paths[0].stat().st_size > 1000


def test_summaries_and_cli_glue_load_without_matplotlib():
    code = (
        "import sys, kcover.theory.cli, kcover.theory.summaries; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"


def test_the_commentary_lives_in_docs():
    text = DOCS.read_text()
    for heading in ("# Theory", "## Reading mode.md", "## Reading law.md", "## Reading knob.md"):
        assert heading in text
    assert "](knob.png)" in text and (DOCS.parent / "knob.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["mode", "law", "knob"])
def test_default_commands_run(which, tmp_path):
    assert main(["theory", which, "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / f"{which}.json").read_text())
    key = {"mode": "instances", "law": "c_empirical", "knob": "adv_mean"}[which]
    assert key in rec

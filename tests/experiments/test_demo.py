"""kcover demo end to end on reduced settings, and the notebook executed so it cannot rot."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest

pytestmark = pytest.mark.integration  # the demo and the notebook, end to end

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("mlxtend")

from kcover.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_demo_quick_writes_the_report_and_reuses_cached_parts(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    first = capsys.readouterr().out
    assert "paper" in first and "ours" in first and "knob ADV alpha=0 -> 1" in first
    report = (out / "report.md").read_text()
    for fig in ("theory/knob.png", "theory/mode.png", "theory/law.png", "text/fig3_bbc_news.png", "vision/fig2.png"):
        assert f"]({fig})" in report
        assert (out / fig).stat().st_size > 1000
    record = json.loads((out / "report.json").read_text())
    d = record["text"]["diagnostic"]
    assert d["gap"] == pytest.approx(d["learner_probe_acc"] - d["input_probe_acc"], abs=1e-6)
    assert record["vision"]["rows"][0][0] == "mnist5k"
    assert set(record["reading"]) == {"theory", "text", "vision"}
    # every cell shown carries the advisor's verdicts beside its realized ADV and sign count
    curves = record["text"]["curves"]["pretrained"]
    assert len(curves["advisor"]) == len(curves["budget_multiplier"]) == 2
    assert all(v is None or v["a_priori"] in ("pay", "do-not-pay") for v in curves["advisor"])
    detail = record["vision"]["detail"]["mnist5k"]
    assert set(detail["separation"]) == {"-C (loose)", "-A (rand. rep)", "-B (smooth)"}
    assert all(0 <= s["seeds_conj_ahead"] <= s["seeds"] for s in detail["separation"].values())
    assert "realized ADV" in first and "pilot" in first and "conj ahead of -B (smooth)" in first
    assert "seeds conj ahead" in report and "a priori" in report
    # second run: every part cached, nothing recomputed, and the same numbers
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    again = json.loads((out / "report.json").read_text())
    assert again["text"] == record["text"] and again["vision"] == record["vision"]
    assert "0 cells computed" in (out / "demo.log").read_text()


def test_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks" / "kcover_tour.ipynb", as_version=4)
    os.environ["KCOVER_NOTEBOOK_DOCS"] = "120"
    try:
        nbclient.NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        os.environ.pop("KCOVER_NOTEBOOK_DOCS")
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "facility location F(S):" in outputs and "kcover advise:" in outputs
    assert (tmp_path / "advise_sweep.png").exists()

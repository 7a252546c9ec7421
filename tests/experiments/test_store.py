"""The resumable results store: finished cells survive kills and are never recomputed."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from kcover.experiments.store import ResultStore, atomic_write_text, run_cells


def test_add_load_and_skip(tmp_path):
    store = ResultStore(tmp_path / "r.jsonl")
    calls = []

    def compute(key):
        calls.append(key["i"])
        return {"acc": key["i"] / 10}

    cells = [{"i": i, "name": "x"} for i in range(5)]
    assert run_cells(store, cells[:3], compute, disable=True) == 3
    again = ResultStore(tmp_path / "r.jsonl")
    assert len(again) == 3 and {"name": "x", "i": 1} in again  # key order does not matter
    assert run_cells(again, cells, compute, disable=True) == 2
    assert calls == [0, 1, 2, 3, 4]
    assert [r["value"]["acc"] for r in ResultStore(tmp_path / "r.jsonl").rows()] == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_partial_last_line_is_dropped_and_finished_cells_kept(tmp_path):
    path = tmp_path / "r.jsonl"
    store = ResultStore(path)
    store.add({"i": 0}, {"acc": 1.0})
    store.add({"i": 1}, {"acc": 0.5})
    with open(path, "a") as fh:
        fh.write('{"key": {"i": 2}, "value": {"ac')  # a kill in the middle of a write
    with pytest.warns(UserWarning, match="dropped 1 unreadable line"):
        again = ResultStore(path)
    assert len(again) == 2 and {"i": 2} not in again
    again.add({"i": 2}, {"acc": 0.25})
    lines = path.read_text().splitlines()
    assert [json.loads(line)["key"]["i"] for line in lines] == [0, 1, 2]


def test_append_after_partial_line_without_reload_keeps_both(tmp_path):
    path = tmp_path / "r.jsonl"
    store = ResultStore(path)
    store.add({"i": 0}, {"acc": 1.0})
    with open(path, "a") as fh:
        fh.write('{"key": {"i"')
    store.add({"i": 1}, {"acc": 0.5})  # must start on a fresh line
    with pytest.warns(UserWarning):
        again = ResultStore(path)
    assert {"i": 0} in again and {"i": 1} in again


def test_killed_run_loses_no_finished_cell(tmp_path):
    """SIGKILL a child in the middle of a run: every cell it finished is on disk, and a rerun does the rest."""
    path = tmp_path / "r.jsonl"
    marker = tmp_path / "started"
    script = textwrap.dedent(f"""
        import os, time
        from kcover.experiments.store import ResultStore, run_cells
        store = ResultStore({str(path)!r})
        def compute(key):
            if key["i"] == 3:
                open({str(marker)!r}, "w").close()
                time.sleep(60)
            return {{"acc": key["i"]}}
        run_cells(store, [{{"i": i}} for i in range(6)], compute, disable=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    for _ in range(600):
        if marker.exists() or proc.poll() is not None:
            break
        import time

        time.sleep(0.05)
    proc.kill()
    proc.wait()
    store = ResultStore(path)
    assert sorted(r["key"]["i"] for r in store.rows()) == [0, 1, 2]
    assert run_cells(store, [{"i": i} for i in range(6)], lambda k: {"acc": k["i"]}, disable=True) == 3


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "t.md"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [f.name for f in p.parent.iterdir()] == ["t.md"]

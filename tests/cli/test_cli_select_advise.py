"""``kcover select`` and ``kcover advise``: file round trips, the JSON contract, one-line errors."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kcover.selection.entry import select

N, C = 600, 6
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def run(make_run):
    """kcover.cli.main with only select and advise registered; (exit code, stdout, stderr)."""
    return make_run("select", "advise")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The misaligned case of test_advise (same shapes, so compilations are shared), on disk."""
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    y = rng.integers(C, size=N)
    mu = rng.normal(size=(C, 20)) * 3
    sign = rng.choice([-1.0, 1.0], size=N)
    x = (sign[:, None] * mu[y] + rng.normal(size=(N, 20))).astype(np.float32)
    e = (rng.normal(size=(C, 16))[y] * 3 + rng.normal(size=(N, 16))).astype(np.float32)
    paths = {"x": d / "x.npy", "e": d / "e.npy", "y": d / "y.npy"}
    np.save(paths["x"], x)
    np.save(paths["e"], e)
    np.save(paths["y"], y)
    words = [[f"w{c}_{i}" for i in range(8)] for c in range(C)]
    texts = [" ".join(rng.choice(words[c], size=12)) for c in y]
    with open(d / "docs.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["body", "topic"])
        w.writerows((t, f"topic{c}") for t, c in zip(texts, y))
    with open(d / "docs.jsonl", "w") as fh:
        for t, c in zip(texts, y):
            fh.write(json.dumps({"text": t, "label": f"topic{c}"}) + "\n")
    paths.update(dir=d, csv=d / "docs.csv", jsonl=d / "docs.jsonl", arrays=(x, e, y))
    return paths


def one_line_error(code, out, err, command, flag):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"kcover {command}: error: {flag}:"), lines[0]


# ---------------------------------------------------------------- select


@pytest.mark.parametrize("method", ["lazy", "kcenter", "random"])
def test_select_round_trip(run, data, tmp_path, method):
    out_path = tmp_path / "picks.npy"
    code, out, err = run("select", "--features", data["e"], "--k", 12, "--method", method, "--out", out_path)
    assert code == 0, err
    picks = np.load(out_path)
    weights = np.load(tmp_path / "picks.weights.npy")
    expected = select(data["arrays"][1], 12, method=method, kernel="rbf")
    assert picks.dtype == np.int64 and picks.shape == (12,)
    np.testing.assert_array_equal(picks, expected.indices)
    np.testing.assert_allclose(weights, expected.weights)
    assert weights.sum() == pytest.approx(N)  # every pool point is covered by exactly one pick
    assert f"12 of {N} points" in out and "wrote" in out


def test_select_json_targets_and_kernel(run, data, tmp_path):
    x, e, _ = data["arrays"]
    np.save(tmp_path / "t.npy", e[:50])
    code, out, _ = run(
        "select",
        "--features",
        data["e"],
        "--k",
        5,
        "--kernel",
        "cosine",
        "--targets",
        tmp_path / "t.npy",
        "--out",
        tmp_path / "p.npy",
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), select(e, 5, kernel="cosine", targets=e[:50]).indices)
    assert report["k"] == 5 and report["kernel"] == "cosine" and report["objective"] >= report["random_objective"]


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--features", "missing.npy", "--k", "3"], "--features"),
        (["--features", "{y}", "--k", "3"], "--features"),  # 1-d
        (["--features", "{nan}", "--k", "3"], "--features"),
        (["--features", "{e}", "--k", "0"], "--k"),
        (["--features", "{e}", "--k", str(N + 1)], "--k"),
        (["--features", "{e}", "--k", "ten"], "--k"),
        (["--features", "{e}", "--k", "3", "--method", "greedy"], "--method"),
        (["--features", "{e}", "--k", "3", "--targets", "{x}"], "--targets"),  # wrong width
        (["--features", "{csv}", "--k", "3"], "--features"),  # not .npy
    ],
)
def test_select_bad_input_is_one_line_exit_2(run, data, tmp_path, args, flag):
    bad = np.array(data["arrays"][1])
    bad[7, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    names = {"y": data["y"], "e": data["e"], "x": data["x"], "nan": tmp_path / "nan.npy", "csv": data["csv"]}
    args = [a.format(**names) for a in args]
    code, out, err = run("select", *args, "--out", tmp_path / "p.npy")
    one_line_error(code, out, err, "select", flag)
    assert not (tmp_path / "p.npy").exists()


def test_select_bad_out_directory(run, data, tmp_path):
    code, out, err = run("select", "--features", data["e"], "--k", 3, "--out", tmp_path / "no" / "p.npy")
    one_line_error(code, out, err, "select", "--out")


# ---------------------------------------------------------------- advise


def test_advise_json_is_one_object_and_progress_goes_to_stderr(run, data, tmp_path):
    plot = tmp_path / "sweep.png"
    code, out, err = run(
        "advise",
        "--input",
        data["x"],
        "--learner",
        data["e"],
        "--labels",
        data["y"],
        "--json",
        "--seeds",
        1,
        "--plot",
        plot,
    )
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1
    d = json.loads(out)
    for key in ("input_probe_acc", "learner_probe_acc", "gap", "alignment_gap", "r_eff", "budgets"):
        assert key in d
    assert d["gap"] > 0.4
    assert [(b["k"], b["verdict"]) for b in d["budgets"]][0] == (C, "pay")
    assert all(b["verdict"] in ("pay", "do-not-pay", "borderline") for b in d["budgets"])
    assert d["plot"] == str(plot) and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert d["budgets"][0]["realized"]["adv"]["mean"] > 0.1
    assert "kcover sweep" in err and "kcover pilot" in err  # the progress bars
    pilot = d["budgets"][0]["pilot"]
    assert {"adv_mean", "adv_se", "splits_positive", "splits"} <= set(pilot) and pilot["close_call"] is False
    assert pilot["splits"] >= 10 and pilot["splits_positive"] == pilot["splits"] and pilot["adv_mean"] > 0.1
    assert d["pilot"]["points"] == N and d["timings"]["pilot_s"] > 0


def test_advise_no_pilot_and_pilot_flags(run, data):
    advise = ("advise", "--input", data["x"], "--learner", data["e"], "--labels", data["y"], "--json")
    code, out, err = run(*advise, "--no-pilot", "--budgets", "1C")
    assert code == 0, err
    d = json.loads(out)
    assert d["pilot"] is None and "pilot" not in d["budgets"][0] and "pilot_s" not in d["timings"]
    assert d["budgets"][0]["verdict"] == d["budgets"][0]["a_priori_verdict"] == "pay"
    assert d["budgets"][0]["reach_gap"] > 0  # the learner reaches the hidden modes, the input does not
    code, out, err = run(*advise, "--no-pilot", "--no-reach", "--budgets", "1C")
    assert code == 0, err
    assert "reach_gap" not in json.loads(out)["budgets"][0]
    pilot = ("--pilot-splits", 4, "--pilot-max-splits", 4, "--pilot-points", 300, "--pilot-margin", 0.5)
    code, out, err = run(*advise, "--budgets", "1C", *pilot, "--quiet")
    assert code == 0, err
    d = json.loads(out)
    assert d["pilot"]["points"] == 300 and d["budgets"][0]["pilot"]["splits"] == 4
    assert d["budgets"][0]["pilot"]["margin"] == 0.5 and d["settings"]["pilot_points"] == 300


def test_advise_readable_summary(run, data):
    code, out, err = run(
        "advise", "--input", data["x"], "--learner", data["e"], "--labels", data["y"], "--budgets", "1C,12", "--verbose"
    )
    assert code == 0, err
    assert "(B) full-budget probe accuracy" in out and "realized sweep" not in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("6 ", "12 "))]
    # budget, k/C, in-tail, reach, verdict, gain [low, high] (3 tokens), pilot ADV, se, splits > 0, a priori
    assert [r[0] for r in rows] == ["6", "12"] and rows[0][4] == "pay" and rows[1][4] == "do-not-pay"
    assert rows[0][11] == "pay" and rows[1][11] == "do-not-pay"
    gain, low, high = float(rows[0][5]), float(rows[0][6].strip("[,")), float(rows[0][7].strip("]"))
    assert low < gain < high and gain == pytest.approx(100 * float(rows[0][8]), abs=0.06)
    # the settings assumed and the select command that follows from each verdict
    assert "selection assumed (as kcover select will run it): method lazy; input rbf (bandwidth" in out
    assert f"k = 6 (pay): kcover select --features {data['e']} --k 6 --method lazy --kernel rbf" in out
    assert f"k = 12 (do-not-pay): kcover select --features {data['x']} --k 12 --method lazy --kernel rbf" in out
    assert float(rows[0][3]) > 0 and "reach: the reach gap" in out
    assert "(C) fails" in out and "(A') holds" in out  # --verbose prints the reasons in words
    assert "pilot: " in out and "the a-priori rule agrees" in out


def test_text_tables_read_the_same_from_csv_and_jsonl(data):
    from kcover.cli.advise import read_text_table

    texts, labels = read_text_table(str(data["csv"]), "body", "topic")
    assert (texts, labels) == read_text_table(str(data["jsonl"]), "text", "label")
    assert len(texts) == N and labels[0] == f"topic{data['arrays'][2][0]}"


def test_advise_text_input(run, data):
    argv = ["advise", "--text", data["csv"], "--text-column", "body", "--label-column", "topic", "--text-dim", 20]
    argv += ["--learner", data["e"], "--json", "--budgets", "2C"]
    code, out, err = run(*argv)
    assert code == 0, err
    d = json.loads(out)
    assert d["classes"] == [f"topic{c}" for c in range(C)] and d["budgets"][0]["k"] == 2 * C
    assert "lexical n-gram hashing" in d["input_source"]
    assert d["input_probe_acc"] > 0.9  # the words name the topic: the lexical geometry is aligned
    assert "--text-ngrams words --tf tfidf" in d["input_note"]  # the default hashing is the weaker input
    code, out, err = run(*argv, "--no-pilot", "--text-ngrams", "words", "--tf", "tfidf")
    assert code == 0, err
    d = json.loads(out)
    assert "words)" in d["input_source"] and "input_note" not in d


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--input", "nope.npy", "--learner", "{e}", "--labels", "{y}"], "--input"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "nope.npy"], "--labels"),
        (["--input", "{y}", "--learner", "{e}", "--labels", "{y}"], "--input"),  # 1-d features
        (["--input", "{x}", "--learner", "{e}", "--labels", "{x}"], "--labels"),  # 2-d labels
        (["--input", "{x}", "--learner", "{e}", "--labels", "{short}"], "--labels"),  # rows do not match
        (["--input", "{x}", "--learner", "{short2d}", "--labels", "{y}"], "--learner"),
        (["--input", "{x}", "--learner", "{nan}", "--labels", "{y}"], "--learner"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--budgets", "100000"], "--budgets"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--budgets", "0"], "--budgets"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--budgets", "lots"], "--budgets"),
        (["--input", "{x}", "--learner", "{e}"], "--labels"),
        (["--learner", "{e}", "--labels", "{y}"], "--input"),
        (["--text", "{csv}", "--learner", "{e}"], "--text-column"),  # the csv's column is "body"
        (
            [
                "--input",
                "{x}",
                "--learner",
                "{e}",
                "--labels",
                "{y}",
                "--input-kernel",
                "cosine",
                "--input-bandwidth",
                "1",
            ],
            "--input-bandwidth",
        ),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--learner-bandwidth", "-2"], "--learner-bandwidth"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--method", "random"], "--method"),
        (
            ["--text", "{csv}", "--text-column", "body", "--label-column", "topic", "--learner", "{short2d}"],
            "--learner",
        ),
        (["--text", "{missing_csv}", "--learner", "{e}"], "--text"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--plot", "{nodir}"], "--plot"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--pilot-splits", "0"], "--pilot-splits"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--pilot-splits", "x"], "--pilot-splits"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--pilot-margin", "nan"], "--pilot-margin"),
        (["--input", "{x}", "--learner", "{e}", "--labels", "{y}", "--pilot-points", "0"], "--pilot-points"),
    ],
)
def test_advise_bad_input_is_one_line_exit_2(run, data, tmp_path, args, flag):
    x, e, y = data["arrays"]
    bad = e.copy()
    bad[11, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "short.npy", y[:-5])
    np.save(tmp_path / "short2d.npy", e[:-5])
    names = {
        "x": data["x"],
        "e": data["e"],
        "y": data["y"],
        "nan": tmp_path / "nan.npy",
        "short": tmp_path / "short.npy",
        "short2d": tmp_path / "short2d.npy",
        "csv": data["csv"],
        "missing_csv": tmp_path / "gone.csv",
        "nodir": tmp_path / "no" / "p.png",
    }
    code, out, err = run("advise", *[a.format(**names) for a in args], "--quiet")
    one_line_error(code, out, err, "advise", flag)


def test_console_script_select(data, tmp_path):
    """The installed command line, end to end, in a fresh process."""
    out_path = tmp_path / "p.npy"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kcover",
            "select",
            "--features",
            str(data["e"]),
            "--k",
            "4",
            "--out",
            str(out_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["k"] == 4
    assert np.load(out_path).shape == (4,)

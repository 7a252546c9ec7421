"""``kcover select``'s whole command line: the selector knobs, weights, an initial subset, .npz
and memory-mapped features, what "auto" chose, and the persistent compilation cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

import kcover
from kcover.cli import compile_cache_dir, main


def _features(tmp_path, n=120, d=5, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return x


def _run(capsys, *argv):
    code = main(["select", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_knob_reaches_the_selector(tmp_path, capsys):
    x = _features(tmp_path)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=x.shape[0]).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "init.npy", np.array([4, 9]))
    code, out, err = _run(
        capsys,
        "--features",
        str(tmp_path / "x.npy"),
        "--k",
        "7",
        "--method",
        "stochastic",
        "--epsilon",
        "0.5",
        "--block",
        "8",
        "--precision",
        "default",
        "--target-weights",
        str(tmp_path / "w.npy"),
        "--initial",
        str(tmp_path / "init.npy"),
        "--seed",
        "3",
        "--out",
        str(tmp_path / "p.npy"),
        "--json",
    )
    assert code == 0, err
    report = json.loads(out)
    ref = kcover.facility_location(
        x, 7, method="stochastic", epsilon=0.5, block=8, precision="default", target_weights=w, initial=[4, 9], seed=3
    )
    assert np.load(tmp_path / "p.npy").tolist() == ref.indices.tolist()
    assert report["objective"] == pytest.approx(float(ref.objective[-1]), rel=1e-6)
    assert report["block"] == 8 and report["cache"] is False and report["auto"] == ["cache"]  # off for stochastic
    assert not {4, 9} & set(ref.indices.tolist())


def test_auto_choices_are_reported(tmp_path, capsys):
    _features(tmp_path)
    code, out, _ = _run(
        capsys, "--features", str(tmp_path / "x.npy"), "--k", "5", "--out", str(tmp_path / "p.npy"), "--json"
    )
    report = json.loads(out)
    assert code == 0 and report["auto"] == ["block", "cache"]
    assert report["block"] == 16 and report["cache"] is True  # the CPU's auto block; 120^2 x 2 bytes fit
    assert report["info"]["similarity_columns"] > 0
    code, out, _ = _run(
        capsys, "--features", str(tmp_path / "x.npy"), "--k", "5", "--no-cache", "--out", str(tmp_path / "p.npy")
    )
    assert code == 0 and "block 16 (auto), cache off" in out


def test_npz_features_with_a_key_and_memory_mapped_npy(tmp_path, capsys):
    x = _features(tmp_path)
    np.savez(tmp_path / "f.npz", emb=x, other=x[:3])
    code, out, _ = _run(
        capsys,
        "--features",
        str(tmp_path / "f.npz"),
        "--key",
        "emb",
        "--k",
        "4",
        "--out",
        str(tmp_path / "a.npy"),
        "--json",
    )
    assert code == 0
    code, _, _ = _run(capsys, "--features", str(tmp_path / "x.npy"), "--k", "4", "--out", str(tmp_path / "b.npy"))
    assert code == 0
    assert np.load(tmp_path / "a.npy").tolist() == np.load(tmp_path / "b.npy").tolist()


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--key", "emb"], "--key"),  # a key for a .npy file
        (["--epsilon", "0.5"], "--epsilon"),  # lazy takes no epsilon
        (["--method", "stochastic", "--epsilon", "1.5"], "--epsilon"),
        (["--block", "0"], "--block"),
        (["--block", "wide"], "--block"),
        (["--precision", "fast"], "--precision"),
        (["--method", "kcenter", "--cache"], "--cache"),
        (["--method", "random", "--block", "8"], "--block"),
        (["--initial", "MISSING"], "--initial"),
        (["--target-weights", "W"], "--target-weights"),
    ],
)
def test_bad_flags_name_themselves(tmp_path, capsys, argv, flag):
    _features(tmp_path)
    np.save(tmp_path / "W.npy", np.ones(3, np.float32))  # the wrong length
    argv = [a.replace("W", str(tmp_path / "W.npy")) if a == "W" else a for a in argv]
    code, _, err = _run(
        capsys, "--features", str(tmp_path / "x.npy"), "--k", "3", "--out", str(tmp_path / "p.npy"), *argv
    )
    assert code == 2
    assert f"error: {flag}" in err


def test_npz_with_several_arrays_needs_a_key(tmp_path, capsys):
    x = _features(tmp_path)
    np.savez(tmp_path / "f.npz", a=x, b=x)
    code, _, err = _run(capsys, "--features", str(tmp_path / "f.npz"), "--k", "3", "--out", str(tmp_path / "p.npy"))
    assert code == 2 and "error: --key" in err and "a, b" in err


def test_compile_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KCOVER_COMPILE_CACHE", str(tmp_path / "cc"))
    assert compile_cache_dir() == str(tmp_path / "cc")
    monkeypatch.setenv("KCOVER_COMPILE_CACHE", "off")
    assert compile_cache_dir() is None
    monkeypatch.delenv("KCOVER_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache_dir() == str(tmp_path / "xdg" / "kcover" / "jax")


def test_a_command_writes_the_persistent_cache(tmp_path):
    # in a fresh process, so that JAX's cache configuration is not shared with this test process
    import os
    import subprocess
    import sys

    _features(tmp_path)
    env = {**os.environ, "KCOVER_COMPILE_CACHE": str(tmp_path / "cc"), "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, "-m", "kcover.cli", "select", "--features", str(tmp_path / "x.npy"), "--k", "3"]
    cmd += ["--out", str(tmp_path / "p.npy")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "cc").iterdir())
    help_text = subprocess.run(
        [sys.executable, "-m", "kcover.cli", "--help"], env=env, capture_output=True, text=True, timeout=120
    ).stdout
    assert "KCOVER_COMPILE_CACHE" in help_text

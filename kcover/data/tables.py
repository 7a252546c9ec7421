"""Reading a user's table and writing the selected rows back, through ``datasets`` and pyarrow.

A table is a :class:`datasets.Dataset` backed by Arrow. :func:`read_table` reads ``.jsonl``,
``.csv``, ``.tsv`` and ``.parquet`` files with pyarrow's own readers, a folder written by
``Dataset.save_to_disk``, a Hugging Face dataset already in the local cache (``hf:NAME[:SPLIT]``;
nothing downloads), or a folder of images (one row per image file: ``image``, its path, and
``file``, its name). :func:`write_table` writes in the format the output's extension names, to
a temporary name first and then renames it, so a crash never leaves a half-written file.

Errors are ValueError / FileNotFoundError whose message starts with the flag (``--data:``,
``--out:``) and names the line or the column at fault.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FILE_FORMATS = (".jsonl", ".csv", ".tsv", ".parquet")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
SAVED_MARKERS = ("state.json", "dataset_info.json", "dataset_dict.json")


def read_table(path: str, flag: str = "--data") -> Any:
    """The rows of ``path`` as an in-memory :class:`datasets.Dataset` (see the module note)."""
    if path.startswith("hf:"):
        return _from_hub_cache(path[3:], flag)
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{flag}: no such file or folder: {path}")
    if p.is_dir():
        return _read_folder(p, flag)
    suffix = {".ndjson": ".jsonl"}.get(p.suffix.lower(), p.suffix.lower())
    if suffix not in FILE_FORMATS:
        raise ValueError(
            f"{flag}: cannot read {p.name}: expects {', '.join(FILE_FORMATS)}, a folder of images, "
            "a save_to_disk folder or hf:NAME[:SPLIT]"
        )
    if p.stat().st_size == 0:
        raise ValueError(f"{flag}: {path} is empty")
    if suffix != ".parquet":
        _check_utf8(p, flag)
    table = _read_file(p, suffix, flag)
    if table.num_rows == 0:
        raise ValueError(f"{flag}: {path} has no data rows")
    import datasets

    return datasets.Dataset(table)


def _check_utf8(p: Path, flag: str) -> None:
    data = p.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{flag}: line {line} of {p} is not UTF-8 (byte {data[err.start]:#04x})") from None
    if not data.strip():
        raise ValueError(f"{flag}: {p} is empty")


def _read_file(p: Path, suffix: str, flag: str) -> Any:
    import pyarrow as pa

    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(p)
        if suffix == ".jsonl":
            import pyarrow.json as pj

            return pj.read_json(p)
        import pyarrow.csv as pc

        parse = pc.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",", newlines_in_values=True)
        return pc.read_csv(p, parse_options=parse)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as err:
        if suffix == ".jsonl":
            _explain_jsonl(p, flag)
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{flag}: cannot read {p} as {suffix[1:]} ({msg})") from None


def _explain_jsonl(p: Path, flag: str) -> None:
    """Name the first line pyarrow's reader refused: not JSON, not an object, or a field changing type."""
    kinds: dict[str, str] = {}
    with open(p, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{flag}: line {i} of {p} is not JSON ({err.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{flag}: line {i} of {p} is not a JSON object")
            for key, value in record.items():
                kind = "null" if value is None else type(value).__name__
                if kind == "null":
                    continue
                if kinds.setdefault(key, kind) != kind and {kind, kinds[key]} != {"int", "float"}:
                    raise ValueError(
                        f"{flag}: line {i} of {p}: column {key!r} holds a {kind} where earlier "
                        f"lines hold a {kinds[key]}"
                    )


def _read_folder(p: Path, flag: str) -> Any:
    import datasets

    if any((p / m).is_file() for m in SAVED_MARKERS):
        loaded = datasets.load_from_disk(str(p))
        if isinstance(loaded, datasets.DatasetDict):
            raise ValueError(
                f"{flag}: {p} holds the splits {', '.join(loaded)}; give one, e.g. {p / next(iter(loaded))}"
            )
        if loaded.num_rows == 0:
            raise ValueError(f"{flag}: {p} has no rows")
        return loaded
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(
            f"{flag}: {p} is neither a save_to_disk folder nor a folder of images ({', '.join(IMAGE_SUFFIXES)})"
        )
    return datasets.Dataset.from_dict({"image": [str(f.resolve()) for f in files], "file": [f.name for f in files]})


def _from_hub_cache(spec: str, flag: str) -> Any:
    name, _, split = spec.partition(":")
    if not name:
        raise ValueError(f"{flag}: hf: needs a dataset name, as in hf:NAME or hf:NAME:SPLIT")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads at run time
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    datasets.config.HF_HUB_OFFLINE = True
    try:
        loaded = datasets.load_dataset(name, split=split or None)
    except Exception as err:  # datasets raises many kinds when a dataset is not in the cache
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"{flag}: {name} is not in the local Hugging Face cache ({msg}); nothing is downloaded at run time"
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        raise ValueError(
            f"{flag}: {name} has the splits {', '.join(loaded)}; name one, as in hf:{name}:{next(iter(loaded))}"
        )
    return loaded


def output_format(out: str) -> str:
    """The format ``--out`` names by its extension: jsonl, csv, tsv, parquet, or ``folder`` (no extension)."""
    suffix = Path(out).suffix.lower()
    if suffix in FILE_FORMATS:
        return suffix[1:]
    if suffix == "":
        return "folder"
    raise ValueError(
        f"--out: cannot write {Path(out).name}: use .jsonl, .csv, .tsv, .parquet, or a folder name "
        "without an extension (datasets' save_to_disk)"
    )


def check_output(out: str, source: str | None = None) -> str:
    """Check ``out`` before any work: its folder exists, it is not the input; returns its format."""
    fmt = output_format(out)
    target = Path(out).expanduser()
    parent = target.resolve().parent
    if not parent.is_dir():
        raise ValueError(f"--out: directory does not exist: {parent}")
    if source is not None and not source.startswith("hf:") and Path(source).expanduser().exists():
        src = Path(source).expanduser().resolve()
        if target.resolve() == src or (target.exists() and os.path.samefile(target, src)):
            raise ValueError(f"--out: is the input {source}; the input is never overwritten, choose another path")
        if target.resolve().is_relative_to(src) and src.is_dir():
            raise ValueError(f"--out: lies inside the input folder {source}; choose another path")
    if fmt != "folder" and target.is_dir():
        raise ValueError(f"--out: is a directory: {out}")
    if fmt == "folder" and target.exists() and not target.is_dir():
        raise ValueError(f"--out: names a folder (no extension) but {out} is a file")
    return fmt


def write_table(table: Any, out: str) -> str:
    """Write ``table`` (a :class:`datasets.Dataset`) to ``out`` atomically; returns the format written."""
    fmt = output_format(out)
    with quiet_datasets():
        _write(table, Path(out).expanduser(), fmt)
    return fmt


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """datasets' own progress bars off inside ("Flattening the indices" and the like say nothing here)."""
    from datasets.utils import disable_progress_bars, enable_progress_bars, is_progress_bar_enabled

    bars = is_progress_bar_enabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if bars:
            enable_progress_bars()


def _write_csv(table: Any, path: str, delimiter: str) -> None:
    """CSV through pyarrow's writer; a column of lists or structs becomes one JSON text per cell."""
    import pyarrow as pa
    import pyarrow.csv as pc

    arrow = table.flatten_indices().data.table
    for i, field in enumerate(arrow.schema):
        if pa.types.is_nested(field.type):
            cells = [None if v is None else json.dumps(v) for v in arrow.column(i).to_pylist()]
            arrow = arrow.set_column(i, field.name, pa.array(cells, pa.string()))
    pc.write_csv(arrow, path, write_options=pc.WriteOptions(delimiter=delimiter))


def _write(table: Any, target: Path, fmt: str) -> None:
    tmp = tempfile.mkdtemp(dir=target.resolve().parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        if fmt == "folder":
            table.save_to_disk(tmp)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp made it private
            if target.is_dir():  # replace an earlier output folder: move it aside first
                old = tmp + ".old"
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
            return
        part = os.path.join(tmp, target.name)
        if fmt == "jsonl":
            table.to_json(part, lines=True, orient="records", force_ascii=False)
        elif fmt in ("csv", "tsv"):
            _write_csv(table, part, "\t" if fmt == "tsv" else ",")
        else:
            table.to_parquet(part)
        os.replace(part, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

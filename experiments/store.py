"""A results file that survives being killed: one JSON line per finished cell.

Each cell is identified by a key (a dict of its coordinates, e.g. dataset, backbone, seed).
:meth:`ResultStore.add` appends one line with a single ``write`` on a file opened for appending,
then flushes and fsyncs, so a finished cell is on disk before the next one starts. A process
killed mid-write leaves at most one partial last line; :meth:`ResultStore.load` drops it (with
a warning) and rewrites the file atomically without it, so every *finished* cell is kept and
a rerun skips exactly those.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm


def cell_id(key: Mapping[str, Any]) -> str:
    """A canonical string for a cell key (sorted JSON)."""
    return json.dumps(dict(key), sort_keys=True, separators=(",", ":"))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ResultStore:
    """Append-only JSONL store of finished cells at ``path``.

    Each line is ``{"key": {...}, "value": {...}}``.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._rows: dict[str, dict[str, Any]] = {}
        self.load()

    def load(self) -> list[dict[str, Any]]:
        """(Re)read the file; drop and report a partial or corrupt line. Returns the rows."""
        self._rows = {}
        if not self.path.exists():
            return []
        good, bad = [], 0
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or "key" not in row or "value" not in row:
                    raise ValueError("not a cell record")
            except ValueError:
                bad += 1
                continue
            good.append(row)
            self._rows[cell_id(row["key"])] = row
        if bad:
            warnings.warn(
                f"{self.path}: dropped {bad} unreadable line(s) (an interrupted write); "
                f"{len(good)} finished cells kept",
                stacklevel=2,
            )
            atomic_write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in good))
        return list(self._rows.values())

    def __contains__(self, key: Mapping[str, Any]) -> bool:
        return cell_id(key) in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> list[dict[str, Any]]:
        """Every finished cell, as ``{"key": ..., "value": ...}`` dicts, in file order."""
        return list(self._rows.values())

    def add(self, key: Mapping[str, Any], value: Mapping[str, Any]) -> None:
        """Append one finished cell durably (single write, flush, fsync)."""
        row = {"key": dict(key), "value": dict(value)}
        line = json.dumps(row, sort_keys=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # a partial line left by a kill must not swallow this one
            if os.fstat(fd).st_size and not self._ends_with_newline():
                os.write(fd, b"\n")
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self._rows[cell_id(key)] = row

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"


def run_cells(
    store: ResultStore,
    cells: Iterable[Mapping[str, Any]],
    compute: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    *,
    desc: str = "cells",
    disable: bool | None = None,
) -> int:
    """Compute every cell not yet in ``store``, appending each as it finishes.

    Shows a progress bar with cells done and time left (to stderr). Returns the number of
    cells computed in this call (0 when everything was already finished).
    """
    cells = list(cells)
    todo = [c for c in cells if c not in store]
    bar = tqdm(
        total=len(cells), initial=len(cells) - len(todo), desc=desc, unit="cell", disable=disable, dynamic_ncols=True
    )
    done = 0
    try:
        for key in todo:
            t0 = time.perf_counter()
            value = dict(compute(key))
            value.setdefault("seconds", round(time.perf_counter() - t0, 4))
            store.add(key, value)
            done += 1
            bar.update(1)
    finally:
        bar.close()
    return done

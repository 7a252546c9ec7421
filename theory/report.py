"""Writing a command's figure (PNG), table (markdown) and record (JSON) to one folder.

Also what the renderers of ``kcover theory mode|law|knob`` share (``theory/*_render.py``): each
``render_X(out, record)`` takes the dict of :mod:`kcover.theory.summaries`' ``X_summary``, writes
``X.png``, ``X.md`` and ``X.json`` to ``out`` and returns the paths and the short lines the command
prints (the paper's claim beside our measurement); ``run_X`` is summary + render, the entry point
of ``kcover theory X`` and of the demo. Here: the number formats of their tables and summary
lines, and where their reports send the reader (:data:`DOCS`: the commentary on why the laws bend
lives in ``docs/theory.md``; the reports state numbers).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

DOCS = "docs/theory.md in the kcover repository"
"""Where the reports send the reader for the commentary on why the laws bend."""


def _plain(obj: Any) -> Any:
    """numpy scalars and arrays -> JSON types; non-finite floats -> None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        val = float(obj)
        return val if math.isfinite(val) else None
    return obj


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table cell (``-`` for None)."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    val = float(value)
    if val == 0:
        return "0"
    if abs(val) < 10 ** (-digits) or abs(val) >= 1e5:
        return f"{val:.2e}"
    return f"{val:+.{digits}f}" if val < 0 else f"{val:.{digits}f}"


def fmt_or_dash(v: Any) -> str:
    """``v`` as a short number, or ``-`` for None."""
    return "-" if v is None else f"{v:.3g}"


def markdown_table(headers: list[str], rows: list[list[Any]], cell: Callable[[Any], str] | None = None) -> str:
    """A GitHub markdown table; cells go through ``cell`` (default: :func:`fmt` unless they are strings)."""
    cell = cell or (lambda c: c if isinstance(c, str) else fmt(c))
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines)


def save(out_dir: Path, name: str, fig: plt.Figure, markdown: str, record: dict) -> list[Path]:
    """Write ``name``.png, ``name``.md and ``name``.json to ``out_dir`` (created); return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png, md, js = out_dir / f"{name}.png", out_dir / f"{name}.md", out_dir / f"{name}.json"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    md.write_text(markdown.rstrip() + "\n")
    js.write_text(json.dumps(_plain(record), indent=1, allow_nan=False) + "\n")
    return [png, md, js]

"""The settings of :func:`kcover.advise`, in one frozen object checked once.

:class:`AdviseOptions` holds every knob of the diagnostic, the pilot and the sweep with its
default; its ``__post_init__`` is the one place they are validated (errors name the field).
The command line builds its flags from :data:`FLAGS` and the field defaults, so a default is
written here and nowhere else. :data:`MARGIN` is the accuracy difference that counts as worth
paying for, shared by the pilot's verdict, the calibration's truths and the demo.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from kcover import checks
from kcover.advisor.pilot_rules import PILOT_BUDGET_RULES
from kcover.kernels import KERNELS
from kcover.selection.kcenter import DEFAULT_KERNEL as KCENTER_KERNEL

SUBPOOLS = (0.25, 0.5, 0.75)
"""The shares of the pilot's selection part it also selects from with ``pilot_extrapolate``."""

SELECT_METHODS = ("lazy", "naive", "stochastic", "kcenter")
"""The ``kcover select --method`` values the pilot can compare (random selects blind to geometry)."""

MARGIN = 0.02
"""Pay when the mean advantage (accuracy points, as a fraction) exceeds this."""

A_PRIORI_RULES = ("repaired", "former")


@dataclasses.dataclass(frozen=True)
class AdviseOptions:
    """Every setting of :func:`kcover.advise` (see its docstring for what each does).

    Build one with keywords and derive variants with :meth:`replace`; the constructor checks
    every field and raises ``ValueError("<field>: ...")`` on a bad value.
    """

    test_fraction: float = 0.25
    seeds: int | tuple[int, ...] = 3
    sweep: bool = False
    input_kernel: str | None = None
    learner_kernel: str | None = None
    input_bandwidth: float | None = None
    learner_bandwidth: float | None = None
    method: str = "lazy"
    l2: float = 1e-3
    lam: float = 1e-2
    spectral_points: int = 1000
    dense_limit: int = 8000
    gap_threshold: float = 0.05
    misalignment_threshold: float = 0.1
    tail_threshold: float = 0.1
    pilot: bool = True
    pilot_splits: int = 10
    pilot_max_splits: int | None = None
    pilot_points: int = 2000
    pilot_margin: float = MARGIN
    pool_size: int | None = None
    pilot_budgets: str = "same"
    a_priori: str = "repaired"
    pilot_test_fraction: float | None = None
    pilot_extrapolate: bool = False
    reach: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "seeds", _seeds(self.seeds))
        for name in ("test_fraction",):
            _fraction(getattr(self, name), name)
        if self.pilot_test_fraction is not None:
            _fraction(self.pilot_test_fraction, "pilot_test_fraction")
        checks.choice(self.method, SELECT_METHODS, "method")
        for i, side in enumerate(("input", "learner")):
            if getattr(self, f"{side}_kernel") is not None:  # None: what kcover select uses (kernel_names)
                checks.choice(getattr(self, f"{side}_kernel"), KERNELS, f"{side}_kernel")
            kernel = self.kernel_names[i]
            bw = getattr(self, f"{side}_bandwidth")
            if bw is not None:
                if (
                    isinstance(bw, bool)
                    or not isinstance(bw, (int, float, np.floating))
                    or not (math.isfinite(bw) and bw > 0)
                ):
                    raise ValueError(f"{side}_bandwidth: must be a positive number, got {bw!r}")
                if kernel != "rbf":
                    raise ValueError(f"{side}_bandwidth: only the rbf kernel has one, not {kernel}")
                set_(self, f"{side}_bandwidth", float(bw))
        checks.choice(self.a_priori, A_PRIORI_RULES, "a_priori")
        checks.choice(self.pilot_budgets, PILOT_BUDGET_RULES, "pilot_budgets")
        for name in ("spectral_points", "dense_limit", "pilot_splits", "pilot_points"):
            set_(self, name, checks.positive_int(getattr(self, name), name))
        if self.pilot_max_splits is not None:
            max_splits = checks.positive_int(self.pilot_max_splits, "pilot_max_splits")
            if max_splits < self.pilot_splits:
                raise ValueError(
                    f"pilot_max_splits: must be at least pilot_splits ({self.pilot_splits}), got {max_splits}"
                )
            set_(self, "pilot_max_splits", max_splits)
        if self.pool_size is not None:
            set_(self, "pool_size", checks.positive_int(self.pool_size, "pool_size"))
        for name in ("l2", "lam", "gap_threshold", "misalignment_threshold", "tail_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
                raise ValueError(f"{name}: must be a finite number, got {value!r}")
        if (
            isinstance(self.pilot_margin, bool)
            or not isinstance(self.pilot_margin, (int, float, np.floating))
            or not math.isfinite(self.pilot_margin)
            or not -1.0 < self.pilot_margin < 1.0
        ):
            raise ValueError(
                f"pilot_margin: must be a finite accuracy difference in (-1, 1), got {self.pilot_margin!r}"
            )
        for name in ("sweep", "pilot", "reach", "progress", "pilot_extrapolate"):
            set_(self, name, bool(getattr(self, name)))

    @property
    def seed_values(self) -> tuple[int, ...]:
        """The seeds as a tuple (a count n given to the constructor means 0..n-1)."""
        return _seeds(self.seeds)

    @property
    def kernel_names(self) -> tuple[str, str]:
        """(input, learner) kernels: as given, else what ``kcover select --method`` uses (rbf; kcenter: linear)."""
        fallback = KCENTER_KERNEL if self.method == "kcenter" else "rbf"
        return (self.input_kernel or fallback, self.learner_kernel or fallback)

    @property
    def max_splits(self) -> int:
        """The pilot's most splits: ``pilot_max_splits``, else 3 x ``pilot_splits``."""
        return 3 * self.pilot_splits if self.pilot_max_splits is None else self.pilot_max_splits

    @property
    def scoring_fraction(self) -> float:
        """The pilot's scoring share: ``pilot_test_fraction``, else ``test_fraction``."""
        return self.test_fraction if self.pilot_test_fraction is None else self.pilot_test_fraction

    def replace(self, **changes: Any) -> AdviseOptions:
        """A copy with ``changes`` applied (checked like the constructor; unknown names are an error)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"options: unknown setting(s) {unknown}; see kcover.AdviseOptions")
        return dataclasses.replace(self, **changes)

    def settings(self, spectral_points: int, pool_size: int, kernels: Sequence[Any] = ()) -> dict[str, Any]:
        """The JSON ``settings`` record of an advice (the spectral subsample, pool and bandwidths as used).

        ``kernels``: the (input, learner) :class:`kcover.kernels.Kernel` the advice selected with;
        their rbf bandwidths are recorded as ``input_bandwidth``, ``learner_bandwidth`` (None
        for cosine and linear), with ``bandwidth_source`` "median heuristic" or "given" per side.
        """
        out: dict[str, Any] = {
            "test_fraction": self.test_fraction,
            "seeds": list(self.seed_values),
            "input_kernel": self.kernel_names[0],
            "learner_kernel": self.kernel_names[1],
            "method": self.method,
            "l2": self.l2,
            "lam": self.lam,
            "spectral_points": spectral_points,
            "gap_threshold": self.gap_threshold,
            "misalignment_threshold": self.misalignment_threshold,
            "tail_threshold": self.tail_threshold,
            "a_priori": self.a_priori,
            "pilot": self.pilot,
            "reach": self.reach,
        }
        for side, name, kern in zip(("input", "learner"), self.kernel_names, kernels):
            rbf = name == "rbf"
            out[f"{side}_bandwidth"] = float(kern.bandwidth) if rbf else None
            out[f"{side}_bandwidth_source"] = (
                None if not rbf else "given" if getattr(self, f"{side}_bandwidth") is not None else "median heuristic"
            )
        if self.pilot:
            out.update(
                pilot_splits=self.pilot_splits,
                pilot_max_splits=self.max_splits,
                pilot_points=self.pilot_points,
                pilot_margin=self.pilot_margin,
                pool_size=pool_size,
                pilot_budgets=self.pilot_budgets,
                pilot_test_fraction=self.scoring_fraction,
                pilot_extrapolate=self.pilot_extrapolate,
            )
        return out


class Flag(NamedTuple):
    """How one :class:`AdviseOptions` field appears on the command line."""

    field: str
    flag: str
    help: str
    group: str = "diagnostic"
    negate: bool = False  # a boolean whose flag turns it off (--no-pilot)
    choices: tuple[str, ...] | None = None


FLAGS: tuple[Flag, ...] = (
    Flag(
        "method",
        "--method",
        "the selector you will use (as kcover select --method); the pilot selects with it",
        choices=SELECT_METHODS,
    ),
    Flag(
        "input_kernel",
        "--input-kernel",
        "kernel you will select with in the input geometry (default: kcover "
        "select's, rbf with the median heuristic; linear for kcenter)",
        choices=KERNELS,
    ),
    Flag(
        "learner_kernel",
        "--learner-kernel",
        "kernel you will select with in the learner geometry (default: kcover select's)",
        choices=KERNELS,
    ),
    Flag(
        "input_bandwidth",
        "--input-bandwidth",
        "rbf bandwidth in the input geometry (default: median heuristic, as kcover select)",
    ),
    Flag(
        "learner_bandwidth",
        "--learner-bandwidth",
        "rbf bandwidth in the learner geometry (default: median heuristic, as kcover select)",
    ),
    Flag("test_fraction", "--test-fraction", "held-out share per class"),
    Flag("gap_threshold", "--gap-threshold", "probe gap that counts as large"),
    Flag("seeds", "--seeds", "sweep seeds; the first drives the diagnostic"),
    Flag(
        "a_priori",
        "--a-priori",
        "the a-priori rule: repaired (calibrated on shipped data) or former",
        choices=A_PRIORI_RULES,
    ),
    Flag(
        "reach",
        "--no-reach",
        "skip the reach gap D(k) per budget (two eigendecompositions on the spectral "
        "subsample; shown beside the verdict, not used by it)",
        negate=True,
    ),
    Flag("pilot", "--no-pilot", "skip the pilot; the a-priori verdict alone", group="pilot", negate=True),
    Flag(
        "pilot_splits",
        "--pilot-splits",
        "stratified splits per round; another round while a budget is undecided",
        group="pilot",
    ),
    Flag("pilot_max_splits", "--pilot-max-splits", "most splits in all (default 3 x --pilot-splits)", group="pilot"),
    Flag(
        "pilot_points",
        "--pilot-points",
        "the pilot runs on a stratified subsample of at most this many rows",
        group="pilot",
    ),
    Flag(
        "pilot_margin",
        "--pilot-margin",
        "pay when the pilot's mean ADV exceeds this accuracy difference",
        group="pilot",
    ),
    Flag(
        "pool_size",
        "--pool-size",
        "size of the pool you will select from, if larger than the labelled rows (default: N)",
        group="pilot",
    ),
    Flag(
        "pilot_extrapolate",
        "--pilot-extrapolate",
        "also run the pilot on sub-pools of 1/4, 1/2 and 3/4 of its "
        "selection part and extrapolate ADV (a + b ln n) to your pool; about 2.5x the pilot's time",
        group="pilot",
    ),
    Flag(
        "pilot_budgets",
        "--pilot-budgets",
        "budget k on your pool runs on the pilot as the same k or the same fraction",
        group="pilot",
        choices=PILOT_BUDGET_RULES,
    ),
)
"""The fields the command line exposes, with their flags; defaults come from :class:`AdviseOptions`."""


def default(field: str) -> Any:
    """The default of one :class:`AdviseOptions` field."""
    return next(f.default for f in dataclasses.fields(AdviseOptions) if f.name == field)


def is_number(field: str) -> bool:
    """Whether an :class:`AdviseOptions` field holds a real number (its command-line value is parsed as float)."""
    kind = next(str(f.type) for f in dataclasses.fields(AdviseOptions) if f.name == field)
    return kind.startswith("float")


def _fraction(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < 1:
        raise ValueError(f"{name}: must lie in (0, 1), got {value!r}")


def _seeds(seeds: Any) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds: must be a positive count or a list of seeds, got {seeds}")
        return tuple(range(int(seeds)))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise ValueError(f"seeds: must be a positive count or a list of seeds, got {seeds!r}")
    vals = tuple(int(s) for s in seeds)
    if not vals:
        raise ValueError("seeds: is empty")
    return vals

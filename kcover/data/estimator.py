"""A selector with scikit-learn's estimator conventions, usable without scikit-learn installed.

    sel = kcover.FacilityLocationSelection(0.1, kernel="rbf", per_class=True)
    X_sub, y_sub = sel.fit(X, y).transform(X, y)     # or sel.fit_transform(X)
    sel.ranking_, sel.gains_, sel.weights_           # (k,) rows of X in selection order, ...

get_params/set_params follow scikit-learn (the constructor only stores its arguments), so
``sklearn.base.clone``, grid search and ``Pipeline`` work. The subset has fewer rows than X:
in a Pipeline the selector can end it (``fit_transform``), but scikit-learn does not carry
``y`` through a step that drops rows, so it cannot sit before a supervised step. sklearn is
imported only when it is installed, to validate input as its own estimators do.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from kcover.data.budget import PER_CLASS_MODES


class FacilityLocationSelection:
    """Select ``n_samples`` rows of X (a count, or a fraction in (0, 1]) by coverage.

    Parameters: ``kernel`` ("rbf", "cosine", "linear"; default rbf with the median-heuristic
    bandwidth unless ``bandwidth``, for kcenter linear), ``method`` ("lazy", "naive", "stochastic",
    "kcenter", "random"),
    ``per_class`` (fit(X, y) splits the budget over the classes of y, ``per_class_mode``
    "proportional" or "equal"), ``seed`` (stochastic, kcenter, random).

    Fitted attributes: ``ranking_`` (k,) int64 rows of X in selection order; ``gains_`` (k,)
    the marginal gain of each pick; ``weights_`` (k,) the rows each pick covers (CRAIG's
    gamma); ``objective_`` (k,); ``n_features_in_``; ``n_rows_fit_`` (N, the rows fitted on).
    """

    def __init__(
        self,
        n_samples: float = 0.1,
        *,
        kernel: str | None = None,
        method: str = "lazy",
        per_class: bool = False,
        per_class_mode: str = "proportional",
        bandwidth: float | None = None,
        seed: int = 0,
    ) -> None:
        self.n_samples = n_samples
        self.kernel = kernel
        self.method = method
        self.per_class = per_class
        self.per_class_mode = per_class_mode
        self.bandwidth = bandwidth
        self.seed = seed

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments as a dict (scikit-learn's convention; ``deep`` is moot)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> FacilityLocationSelection:
        """Set constructor arguments by name; an unknown name is a ValueError. Returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{name}: not a parameter of FacilityLocationSelection (parameters: {', '.join(valid)})"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [
            f"{k}={v!r}" for k, v in self.get_params().items() if v is not defaults.get(k) and v != defaults.get(k)
        ]
        return f"FacilityLocationSelection({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:  # called by scikit-learn only, so it is installed
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type="transformer",
            target_tags=TargetTags(required=bool(self.per_class)),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]),
            input_tags=InputTags(two_d_array=True),
        )

    def _validate(self, X: Any, y: Any = None, reset: bool = True) -> tuple[np.ndarray, Any]:
        try:
            from sklearn.utils.validation import check_array, check_X_y
        except ImportError:  # no scikit-learn: kcover's own checks
            from kcover import checks

            x = checks.features(X, "X")
            return x, None if y is None else np.asarray(y)
        if y is not None:
            x, y = check_X_y(X, y, dtype=[np.float64, np.float32], ensure_min_samples=2)
        else:
            x = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if reset:
            self.n_features_in_ = x.shape[1]
        elif x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {x.shape[1]} features, but FacilityLocationSelection is expecting "
                f"{self.n_features_in_} features as input"
            )
        return x, y

    def fit(self, X: Any, y: Any = None) -> FacilityLocationSelection:
        """Select from the rows of X (N, d); y (N,) class labels, used when ``per_class``."""
        from kcover.data.subset import select_rows

        if self.per_class_mode not in PER_CLASS_MODES:
            raise ValueError(
                f"per_class_mode: must be one of {', '.join(PER_CLASS_MODES)}, got {self.per_class_mode!r}"
            )
        x, y = self._validate(X, y)
        if self.per_class and y is None:
            raise ValueError("y: per_class=True needs the class labels y in fit(X, y)")
        options: dict[str, Any] = {} if self.method in ("lazy", "naive") else {"seed": self.seed}
        sel = select_rows(
            np.asarray(x, np.float32),
            self.n_samples,
            labels=y if self.per_class else None,
            per_class_mode=self.per_class_mode,
            method=self.method,
            kernel=self.kernel,
            bandwidth=self.bandwidth,
            **options,
        )
        self.ranking_ = np.asarray(sel.indices, np.int64)
        self.gains_ = np.asarray(sel.gains, np.float64)
        self.weights_ = np.asarray(sel.weights, np.float64)
        self.objective_ = np.asarray(sel.objective, np.float64)
        self.n_features_in_ = x.shape[1]
        self.n_rows_fit_ = x.shape[0]
        return self

    def transform(self, X: Any, y: Any = None) -> Any:
        """The selected rows X[ranking_] (k, d), or (X[ranking_], y[ranking_]) with ``y``.

        X must be the data the selector was fitted on (the same N rows)."""
        if not hasattr(self, "ranking_"):
            try:
                from sklearn.exceptions import NotFittedError
            except ImportError:
                NotFittedError = ValueError
            raise NotFittedError("This FacilityLocationSelection instance is not fitted yet; call fit(X) first")
        x, y = self._validate(X, y, reset=False)
        if x.shape[0] != self.n_rows_fit_:
            raise ValueError(
                f"X: has {x.shape[0]} rows but the selector was fitted on {self.n_rows_fit_}; "
                "transform the data it was fitted on"
            )
        return x[self.ranking_] if y is None else (x[self.ranking_], np.asarray(y)[self.ranking_])

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """``fit(X, y).transform(X)``: the selected rows (k, d)."""
        return self.fit(X, y).transform(X)

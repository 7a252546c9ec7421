"""theory: simulators that check the paper's section 3 (Eq. 1, Eq. 2, Fig. 1) on kcover.

* :mod:`theory.latent_mode` -- the latent-mode model; Eq. 1, ADV(k) = rho * delta(Delta, k).
* :mod:`theory.product_law` -- Eq. 2, ADV(k) against rho_tail(k) * g(Delta), with every violation.
* :mod:`theory.knob` -- the alpha knob e_alpha(x) = (alpha |x|, (1 - alpha) x) of Fig. 1.
* :mod:`theory.cli` -- ``kcover theory mode|law|knob``.

theory uses kcover; kcover never imports theory. Names are re-exported lazily so that building
the ``kcover`` parser (which imports :mod:`theory.cli`) does not import JAX.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BlockKernel": "theory.latent_mode",
    "LatentModes": "theory.latent_mode",
    "ModeRun": "theory.latent_mode",
    "make_latent_modes": "theory.latent_mode",
    "predicted_delta": "theory.latent_mode",
    "simulate_modes": "theory.latent_mode",
    "EmbeddingRBF": "theory.product_law",
    "MixedKernel": "theory.product_law",
    "RandomFeatureKernel": "theory.product_law",
    "law_rows": "theory.product_law",
    "summarize": "theory.product_law",
    "KnobRun": "theory.knob",
    "embed": "theory.knob",
    "knob_sweep": "theory.knob",
    "make_pairs": "theory.knob",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'theory' has no attribute {name!r}")

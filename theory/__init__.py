"""theory: simulators that check the paper's section 3 (Eq. 1, Eq. 2, Fig. 1) on kcover.

* :mod:`kcover.theory.latent_mode` -- the latent-mode model: its instances and the block learner kernel.
* :mod:`kcover.theory.mode_simulation` -- Eq. 1 on an instance, ADV(k) = rho * delta(Delta, k).
* :mod:`kcover.theory.product_law` -- Eq. 2, ADV(k) against rho_tail(k) * g(Delta), with every violation.
* :mod:`kcover.theory.knob` -- the alpha knob e_alpha(x) = (alpha |x|, (1 - alpha) x) of Fig. 1.
* :mod:`kcover.theory.summaries` -- each command's simulation and statistics as a pure dict (its JSON record).
* :mod:`kcover.theory.mode_render`, :mod:`kcover.theory.law_render`, :mod:`kcover.theory.knob_render` -- each
  command's figure, table and record; ``run_mode``, ``run_law``, ``run_knob``.
* :mod:`kcover.theory.report` -- writing them to a folder, and the formats the renderers share.
* :mod:`kcover.theory.cli` -- ``kcover theory mode|law|knob``.

theory uses kcover; kcover never imports theory. Names are re-exported lazily so that building
the ``kcover`` parser (which imports :mod:`kcover.theory.cli`) does not import JAX.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BlockKernel": "kcover.theory.latent_mode",
    "LatentModes": "kcover.theory.latent_mode",
    "ModeRun": "kcover.theory.mode_simulation",
    "make_latent_modes": "kcover.theory.latent_mode",
    "predicted_delta": "kcover.theory.mode_simulation",
    "simulate_modes": "kcover.theory.mode_simulation",
    "EmbeddingRBF": "kcover.theory.product_law",
    "MixedKernel": "kcover.theory.product_law",
    "RandomFeatureKernel": "kcover.theory.product_law",
    "law_rows": "kcover.theory.product_law",
    "summarize": "kcover.theory.product_law",
    "KnobRun": "kcover.theory.knob",
    "embed": "kcover.theory.knob",
    "knob_sweep": "kcover.theory.knob",
    "make_pairs": "kcover.theory.knob",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'theory' has no attribute {name!r}")

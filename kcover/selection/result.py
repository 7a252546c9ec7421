"""The record every selector returns."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np


class Selection(NamedTuple):
    """A selection of ``k`` points from a pool of ``N`` candidates against ``T`` targets.

    Attributes:
      indices: (k,) int32, candidate indices in the order they were picked (never repeated,
        never one of the initial subset).
      gains: (k,) the marginal gain of each pick (facility location: F(S + i) - F(S);
        k-center: the pick's distance to the nearest earlier center, inf for a first center).
      objective: (k,) the objective after each pick (facility location: F; k-center: the
        covering radius max_x min_s d(x, s)).
      weights: (k,) for each pick, the total target weight it covers (CRAIG's gamma): the
        targets whose most similar selected point (initial subset included, earliest pick on
        ties) is this pick. With unit target weights this is a count.
      coverage: (T,) each target's similarity to the selection (facility location) or its
        distance to the nearest center (k-center): the state to continue from.
      method: the selector that produced it.
      info: how it ran: for facility location the ``block`` and ``cache`` used (what ``"auto"``
        chose) and the work done (``similarity_columns``, ``cache_rows``, ``rounds``); empty for
        the other selectors.
    """

    indices: np.ndarray
    gains: np.ndarray
    objective: np.ndarray
    weights: np.ndarray
    coverage: np.ndarray
    method: str
    info: Mapping[str, Any] = MappingProxyType({})

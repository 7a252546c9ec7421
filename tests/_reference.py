"""Float64 numpy references shared by the core tests."""

from __future__ import annotations

import itertools

import numpy as np


def gram(x, y, kernel, bandwidth=1.0):
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if kernel == "linear":
        return x @ y.T
    if kernel == "cosine":
        xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
        yn = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-300)
        return xn @ yn.T
    d2 = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * bandwidth**2))


def fl_value(sim, subset, w=None, floor=0.0):
    sim = np.asarray(sim, np.float64)
    w = np.ones(sim.shape[0]) if w is None else np.asarray(w, np.float64)
    if len(subset) == 0:
        return 0.0
    best = np.maximum(sim[:, list(subset)].max(1), floor)
    return float(np.sum(w * (best - floor)))


def fl_greedy(sim, k, w=None, floor=0.0, initial=()):
    """Naive greedy, ties to the lowest index.

    Gains are computed directly, sum_x w_x max(sim(x, j) - cover(x), 0), not as a difference of
    objective values, which would absorb tiny similarities (e.g. 5e-92) into rounding.
    """
    sim = np.asarray(sim, np.float64)
    w = np.ones(sim.shape[0]) if w is None else np.asarray(w, np.float64)
    cover = np.full(sim.shape[0], floor, np.float64)
    chosen = set(initial)
    for j in initial:
        cover = np.maximum(cover, sim[:, j])
    picks = []
    for _ in range(k):
        gains = (w[:, None] * np.maximum(sim - cover[:, None], 0.0)).sum(0)
        gains[list(chosen)] = -np.inf
        j = int(np.argmax(gains))
        picks.append(j)
        chosen.add(j)
        cover = np.maximum(cover, sim[:, j])
    return picks


def fl_optimum(sim, k, w=None, floor=0.0):
    n = np.asarray(sim).shape[1]
    return max(fl_value(sim, s, w, floor) for s in itertools.combinations(range(n), k))


def kcenter_optimum(x, k):
    x = np.asarray(x, np.float64)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    return min(d[:, list(s)].min(1).max() for s in itertools.combinations(range(x.shape[0]), k))

"""Training the bandit offline: an L2-regularised logistic regression of a
seed's fossilisation on the features of its decision (workers/engine/policy/
learned.py's `features`, the same function the policy scores with), fitted by
Newton's method; cross-validated by RNG seed (every decision of a run in the
same fold, so a run's correlated decisions never sit on both sides)."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workers.engine.policy.learned import FORMAT, FORMAT_VERSION, features

L2_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)


@dataclass
class Fit:
    names: list[str]
    weights: np.ndarray
    bias: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        z: np.ndarray = np.clip(x @ self.weights + self.bias, -60, 60)
        p: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return p


def design(
    rows: Sequence[dict[str, Any]], names: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    feats = [features(r["inputs"], str(r["slot"]), str(r["blueprint"])) for r in rows]
    if names is None:
        names = sorted({k for f in feats for k in f})
    x = np.array([[f.get(n, 0.0) for n in names] for f in feats], dtype=np.float64)
    y = np.array([float(r["reward"]) for r in rows], dtype=np.float64)
    return x, y, names


def fit(
    x: np.ndarray, y: np.ndarray, names: list[str], l2: float = 1.0, steps: int = 50
) -> Fit:
    """Newton's method on the mean log-loss plus l2/n·|w|² (bias free)."""
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2 / max(n, 1))
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -60, 60)))
        grad = a.T @ (p - y) / n + 2 * reg * w
        hess = (a.T * (p * (1 - p))) @ a / n + np.diag(2 * reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Fit(names, w[:-1], float(w[-1]))


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def cross_validate(rows: Sequence[dict[str, Any]], l2: float) -> dict[str, Any]:
    """Leave-one-RNG-seed-out: the model's log-loss and accuracy on unseen
    runs against the base rate's (predicting the training folds' mean)."""
    seeds = sorted({r["rng_seed"] for r in rows})
    model_p, base_p, truth = [], [], []
    for held in seeds:
        train = [r for r in rows if r["rng_seed"] != held]
        test = [r for r in rows if r["rng_seed"] == held]
        if not train or not test:
            continue
        x, y, names = design(train)
        model = fit(x, y, names, l2)
        tx, ty, _ = design(test, names)
        model_p += list(model.predict(tx))
        base_p += [float(y.mean())] * len(test)
        truth += list(ty)
    if not truth:
        return {}
    t, mp, bp = np.array(truth), np.array(model_p), np.array(base_p)
    return {
        "folds": len(seeds),
        "l2": l2,
        "log_loss": log_loss(mp, t),
        "base_log_loss": log_loss(bp, t),
        "auc": auc(mp, t),
        "accuracy": float(np.mean((mp >= 0.5) == (t == 1))),
        "base_accuracy": float(np.mean((bp >= 0.5) == (t == 1))),
    }


def auc(p: np.ndarray, y: np.ndarray) -> float | None:
    """How often a fossilised seed's decision scored above a culled one's
    (0.5: no ranking skill)."""
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return None
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (
        pos[:, None] == neg[None, :]
    ).sum()
    return float(wins / (len(pos) * len(neg)))


def train(rows: Sequence[dict[str, Any]], l2: float | None = None) -> dict[str, Any]:
    """The weights file's content (learned.BanditWeights). Without `l2`, the
    grid's value with the best cross-validated log-loss (selected on the same
    folds it is reported on: an optimistic figure). The threshold is the
    data's fossilised rate: germinate where the best action is predicted at
    least as likely to fossilise as a random germination was."""
    if not rows:
        raise ValueError("no rows to train on")
    grid = [cross_validate(rows, value) for value in ([l2] if l2 else L2_GRID)]
    best = min(grid, key=lambda cv: cv.get("log_loss", math.inf))
    l2 = float(best.get("l2", l2 or 1.0))
    x, y, names = design(rows)
    model = fit(x, y, names, l2)
    fates: dict[str, int] = {}
    outcomes: dict[str, int] = {}  # the field reports' own verdict, by fate
    for r in rows:
        fates[r["fate"]] = fates.get(r["fate"], 0) + 1
        key = f"{r['fate']}/{r.get('loss_outcome')}"
        outcomes[key] = outcomes.get(key, 0) + 1
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "features": names,
        "weights": [round(float(v), 6) for v in model.weights],
        "bias": round(model.bias, 6),
        "threshold": round(float(y.mean()), 6),
        "trained": {
            "rows": len(rows),
            "fossilised_rate": float(y.mean()),
            "fates": fates,
            "loss_outcome_by_fate": dict(sorted(outcomes.items())),
            "l2": l2,
            "train_log_loss": log_loss(model.predict(x), y),
            "rng_seeds": sorted({r["rng_seed"] for r in rows}),
            "tasks": sorted({r["task"] for r in rows}),
            "cross_validation": best,
            "l2_grid": {str(cv.get("l2")): cv.get("log_loss") for cv in grid},
        },
    }

"""The metric `expected_cost` for binary classification: what the model's mistakes cost.

A false positive costs AUTOML_COST_FP and a false negative AUTOML_COST_FN (both default
to 1). The score is the mean cost per row of the predicted labels; lower is better. It is
scored on labels, so automl chooses the decision threshold that makes it lowest on the
out-of-fold probabilities, stores it in the model and predicts with it (with unequal
costs it is seldom 0.5). The settings are read once, when automl loads its plugins: a
value that is not a number marks this plugin broken, with a message naming the variable.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from automl.contract import Metric, Task
from automl.hookspecs import hookimpl

COST_FP = "AUTOML_COST_FP"
COST_FN = "AUTOML_COST_FN"


@dataclass(frozen=True)
class Costs:
    """The price of each kind of mistake."""

    false_positive: float = 1.0
    false_negative: float = 1.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Costs:
        """Read the costs from `environ`; defaults where unset."""
        return cls(
            false_positive=_number(environ, COST_FP, cls.false_positive, low=0.0),
            false_negative=_number(environ, COST_FN, cls.false_negative, low=0.0),
        )


def _number(
    environ: Mapping[str, str], name: str, default: float, low: float, high: float = float("inf")
) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if not low <= value <= high:
        bounds = f"between {low:g} and {high:g}" if high < float("inf") else f"at least {low:g}"
        raise ValueError(f"{name}={text!r} must be {bounds}")
    return value


def expected_cost(y_true: np.ndarray, y_pred: np.ndarray, costs: Costs = Costs()) -> float:
    """Mean cost per row of the yes/no decisions `y_pred`.

    y_true and y_pred hold 0 (negative) and 1 (positive).
    """
    predicted = np.asarray(y_pred) == 1
    actual = np.asarray(y_true) == 1
    false_positives = np.count_nonzero(predicted & ~actual)
    false_negatives = np.count_nonzero(~predicted & actual)
    total = false_positives * costs.false_positive + false_negatives * costs.false_negative
    return float(total / len(actual))


def expected_cost_metric(costs: Costs) -> Metric:
    """The `expected_cost` metric for the given costs."""
    return Metric(
        name="expected_cost",
        tasks=frozenset({Task.BINARY}),
        direction="minimize",
        score=functools.partial(expected_cost, costs=costs),
        description=(
            f"Mean cost per row: {costs.false_positive:g} per false positive,"
            f" {costs.false_negative:g} per false negative."
        ),
    )


@hookimpl
def automl_register_metrics(register: Callable[[Metric], None]) -> None:
    register(expected_cost_metric(Costs.from_environment()))

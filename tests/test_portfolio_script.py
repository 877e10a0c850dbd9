"""benchmarks/portfolio.py's choice of the search's first trials, and what it wrote."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl import data
from automl.contract import SearchContext, Task
from automl.plugins import get_registry
from automl.preprocess import build_candidate

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "automl" / "portfolio.py"


@pytest.fixture(scope="module")
def script():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("portfolio")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


# Three tables, four configurations: A is the best alone but slow, D the best partner of
# anything, B and C are cheap (C the cheapest).
LOSSES = pd.DataFrame(
    {"A": [0.0, 0.1, 0.2], "B": [0.5, 0.6, 0.4], "C": [0.9, 0.2, 1.0], "D": [1.0, 0.0, 0.0]},
    index=["t1", "t2", "t3"],
)
SECONDS = pd.DataFrame({"A": 3.0, "B": 1.0, "C": 0.5, "D": 5.0}, index=LOSSES.index)  # a fold


def test_losses_are_zero_for_the_best_and_one_from_the_median_down(script):
    scores = pd.DataFrame(
        {
            "a": [0.9, 1.0],
            "b": [0.8, 2.0],
            "c": [0.7, 3.0],
            "d": [np.nan, 5.0],
            "e": [0.85, np.nan],
        },
        index=["auc", "rmse"],
    )
    losses = script.normalized_losses(scores, {"auc": "maximize", "rmse": "minimize"})
    # A failed configuration (NaN) is the worst: it counts for the median and scores 1.
    assert losses.loc["auc"].tolist() == pytest.approx([0.0, 1.0, 1.0, 1.0, 0.5])
    assert losses.loc["rmse"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0])


def test_the_first_entry_is_the_best_cheap_one_then_greedy(script):
    # A alone is best, but costs 3x the reference B (and 15 s of cross-validation): the
    # cheap B goes first, then the entries that lower the portfolio's loss most.
    assert script.choose(LOSSES, SECONDS, "B", 8) == ["B", "A", "D", "C"]
    # Without the cheap rule: A, then D (all three tables at 0), then ties go to the
    # lower mean loss alone.
    assert script.choose(LOSSES, SECONDS, "B", 8, cheap_factor=np.inf) == ["A", "D", "B", "C"]
    # A cross-validation short enough is cheap whatever the ratio.
    assert script.choose(LOSSES, SECONDS, "B", 1, cheap_seconds=15.0) == ["A"]
    # With no cheap configuration at all, the first step considers every one.
    assert script.choose(LOSSES, SECONDS, "B", 2, cheap_factor=0.1) == ["A", "D"]


def test_leave_one_table_out_scores_a_portfolio_chosen_without_the_table(script):
    defaults = {t: ["D", "C"] for t in LOSSES.index}
    bucket = script.choose_bucket("small", LOSSES, SECONDS, "B", defaults, 8)
    assert bucket.order == ["B", "A", "D", "C"]
    assert bucket.mean_loss_after == pytest.approx([0.5, 0.1, 0.0, 0.0])
    held_out = {row["table"]: row for row in bucket.leave_one_out}
    # Without t3, B and C tie on t1 and t2 (0.55): the cheaper C goes first, and t3 has
    # its worst loss with it.
    assert held_out["t3"]["order"][:2] == ["C", "A"]
    assert held_out["t3"]["held_out_1"] == 1.0
    assert held_out["t3"]["in_sample_1"] == 0.4
    assert held_out["t3"]["held_out_4"] == 0.0
    assert held_out["t1"]["defaults_1"] == 1.0
    assert held_out["t1"]["defaults_4"] == 0.9


def test_the_generated_module_is_data_that_reads_back(script, tmp_path):
    configs = [
        script.Config("lgb00", "lightgbm", dict(script.REFERENCE), 0),
        script.Config("lin01", "linear", {"C": 0.1, "alpha": 0.1}),
    ]
    buckets = [
        script.Bucket(name, [], order, [0.2, 0.1], {}, {"lgb00": 0.1, "lin01": 0.01}, [])
        for name, order in (("small", ["lin01", "lgb00"]), ("large", ["lgb00", "lin01"]))
    ]
    text = script.module_text(buckets, configs, "benchmarks/results/portfolio-x.json", 14.2)
    namespace: dict[str, Any] = {}
    exec(compile(text, "portfolio.py", "exec"), namespace)
    assert namespace["SMALL_ROWS"] == 2000
    assert namespace["PORTFOLIO"]["small"] == (
        ("linear", {"C": 0.1, "alpha": 0.1}),
        ("lightgbm", script.REFERENCE),
    )
    assert namespace["PORTFOLIO"]["large"][0] == ("lightgbm", script.REFERENCE)


# The module benchmarks/portfolio.py --write generated ----------------------------------


class _Checker:
    """A search-space suggester answering with an entry's values, checking each is in range."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.asked: set[str] = set()

    def _value(self, name: str) -> Any:
        assert name in self.params, f"{name} missing"
        self.asked.add(name)
        return self.params[name]

    def suggest_int(self, name: str, low: int, high: int, **kwargs: Any) -> int:
        value = self._value(name)
        assert isinstance(value, int) and low <= value <= high, (name, value, low, high)
        return value

    def suggest_float(self, name: str, low: float, high: float, **kwargs: Any) -> float:
        value = self._value(name)
        assert isinstance(value, int | float) and low <= value <= high, (name, value, low, high)
        return value

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        value = self._value(name)
        assert value in choices, (name, value, choices)
        return value


def _schema(task: Task):
    frame = pd.DataFrame({"x": np.arange(40.0), "c": ["u", "v", "w", "z"] * 10})
    frame["y"] = np.arange(40.0) * 1.5 if task is Task.REGRESSION else [0, 1, 2, 3] * 10
    if task is Task.BINARY:
        frame["y"] = frame["y"] % 2
    return data.infer_schema(frame, "y", task)


def test_generated_portfolio_imports_nothing_but_typing_any():
    tree = ast.parse(GENERATED.read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [(n.module, [a.name for a in n.names]) for n in imports] == [("typing", ["Any"])]


def test_generated_portfolio_entries_are_builtins_inside_their_search_spaces():
    from automl.portfolio import PORTFOLIO, SMALL_ROWS

    assert set(PORTFOLIO) == {"small", "large"}
    registry = get_registry()
    for bucket, entries in PORTFOLIO.items():
        # The greedy order's 8, after the free entries of the algorithms it lacks.
        assert 8 <= len(entries) <= 8 + len(registry.algorithms)
        n_rows = 150 if bucket == "small" else SMALL_ROWS
        for name, params in entries:
            algorithm = registry.algorithm(name)
            assert algorithm.build.__module__.startswith("automl.builtin."), name
            asked: set[str] = set()
            for task in sorted(algorithm.tasks):
                checker = _Checker(params)
                algorithm.search_space(checker, SearchContext(task, n_rows, 10, 4))
                asked |= checker.asked
                build_candidate(algorithm, _schema(task), params, task, 0, 1)
            assert asked == set(params), (name, params)


def test_add_to_evaluates_only_the_candidates_an_earlier_run_lacks(script, tmp_path, monkeypatch):
    import json
    from dataclasses import asdict

    everything = script.candidates()
    # An earlier run from before the MLP was built in: every other candidate, two tables.
    before = [c for c in everything if c.algorithm != "mlp"]
    tables = [{"name": "t1"}, {"name": "t2"}]
    earlier = {
        "evaluation_seconds": 600.0,
        "tables": tables,
        "configs": [asdict(c) for c in before],
        "matrix": [{"table": t["name"], "config": c.name} for t in tables for c in before],
    }
    path = tmp_path / "portfolio-earlier.json"
    path.write_text(json.dumps(earlier))
    asked: list[tuple[list[str], list[str]]] = []

    def evaluation(args, configs):
        asked.append((args.tables, [c.name for c in configs]))
        return {
            "started": "now",
            "evaluation_seconds": 60.0,
            "environment": {},
            "automl": {},
            "configs": [asdict(c) for c in configs],
            "matrix": [{"table": t, "config": c.name} for t in args.tables for c in configs],
        }

    monkeypatch.setattr(script, "evaluation", evaluation)
    run = script.added(script.parse_args(["--add-to", str(path)]))
    new = [c.name for c in everything if c.algorithm == "mlp"]
    assert new and asked == [(["t1", "t2"], new)]
    assert run["configs"] == [asdict(c) for c in everything]
    assert len(run["matrix"]) == 2 * len(everything)
    assert run["evaluation_seconds"] == 660.0
    assert run["added"]["configs"] == new and run["added"]["to"] == str(path)


def test_a_candidate_is_evaluated_with_the_values_its_space_sets_unsearched():
    from dataclasses import replace

    from automl.search import trial_params

    registry = get_registry()
    knn = registry.algorithm("knn")

    def space(trial, context):  # a value chosen by the table's size, not searched
        return {**knn.search_space(trial, context), "large": context.n_rows >= 1000}

    sized = replace(knn, search_space=space)
    params = {"n_neighbors": 40, "weights": "distance", "p": 2}
    large = SearchContext(Task.BINARY, 5000, 10, 2)
    # The unsearched value comes with the table, and the neighbours are moved inside the
    # space's range for it (at most a tenth of the rows).
    assert trial_params(sized, params, large) == {**params, "large": True}
    small = SearchContext(Task.BINARY, 150, 10, 2)
    assert trial_params(sized, params, small) == {**params, "n_neighbors": 15, "large": False}
    # A space that sets nothing unsearched gets the parameters alone, inside its ranges.
    assert trial_params(knn, params, small) == {"n_neighbors": 15, "weights": "distance", "p": 2}


def test_free_configurations_of_the_algorithms_the_order_lacks_go_first(script):
    """Of each algorithm the greedy order lacks, its best configuration whose
    cross-validation is free, best first; none of an algorithm the order has, and none
    that costs more."""
    losses = LOSSES.assign(E=[0.9, 0.9, 0.9], F=[0.7, 0.8, 0.9], G=[0.1, 0.1, 0.1])
    seconds = SECONDS.assign(E=0.01, F=0.015, G=0.5)
    algorithms = {"A": "mlp", "B": "lightgbm", "C": "lightgbm", "D": "extra_trees"}
    algorithms |= {"E": "linear", "F": "knn", "G": "knn"}
    # E and F are free (5 folds of at most 0.1 s); G is the better k-NN, but not free.
    assert script.free_entries(losses, seconds, ["B", "A"], algorithms) == ["F", "E"]
    assert script.free_entries(losses, seconds, ["B", "A"], algorithms, 0.01) == []
    # k-NN is in the order: only the linear model is added.
    assert script.free_entries(losses, seconds, ["G", "B"], algorithms) == ["E"]
    defaults = {t: ["D"] for t in losses.index}
    bucket = script.choose_bucket("small", losses, seconds, "B", defaults, 2, algorithms)
    # The greedy order takes the best k-NN (G) and D: the free linear model goes first.
    assert (bucket.free, bucket.order, bucket.entries()) == (["E"], ["G", "D"], ["E", "G", "D"])

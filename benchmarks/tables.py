"""The benchmark tables: what each one is, and how to build it without downloading anything.

Importing this module is cheap (numpy and pandas): each loader imports scikit-learn,
statsmodels or the sample generators only when it is called, so the ``--one`` workers of
``compare.py``, some of which run in AutoGluon's own environment, can read the metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

BENCH_ROWS = 10_000
BIG_ROWS = 200_000


@dataclass(frozen=True)
class Dataset:
    """A benchmark table: a frame loader plus what the peers must not see raw."""

    name: str
    task: str
    target: str
    load: Callable[[], pd.DataFrame]
    source: str
    drop_for_peers: tuple[str, ...] = ()
    date_columns: tuple[str, ...] = ()


def _sklearn(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        return getattr(datasets, name)(as_frame=True).frame

    return load


def _churn(rows: int) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from samples import make_churn

        return make_churn(rows)

    return load


def _houses() -> pd.DataFrame:
    from samples import make_houses

    return make_houses(BENCH_ROWS)


def _fair() -> pd.DataFrame:
    """Extramarital affairs survey (Fair 1978): did the respondent have an affair?

    The two occupation columns are nominal codes 1-6, so they become string labels.
    """
    from statsmodels.datasets import fair

    frame = fair.load_pandas().data
    for column in ("occupation", "occupation_husb"):
        frame[column] = "occ" + frame[column].astype(int).astype(str)
    frame["had_affair"] = (frame.pop("affairs") > 0).astype(int)
    return frame


def _randhie() -> pd.DataFrame:
    """RAND Health Insurance Experiment: number of outpatient visits (a count)."""
    from statsmodels.datasets import randhie

    return randhie.load_pandas().data.astype(float)


def _anes96() -> pd.DataFrame:
    """1996 American National Election Study: party identification, seven classes.

    ``vote`` is dropped: it is nearly a restatement of the target.
    """
    from statsmodels.datasets import anes96

    frame = anes96.load_pandas().data.drop(columns=["vote", "logpopul"])
    frame["PID"] = frame["PID"].astype(int)
    return frame


def _mask(frame: pd.DataFrame, columns: list[str], share: float, rng: np.random.Generator) -> None:
    for column in columns:
        frame[column] = frame[column].mask(rng.random(len(frame)) < share)


def _segments() -> pd.DataFrame:
    """Four customer segments from ``make_classification``, with categoricals and gaps.

    Two informative features are binned into string categories (8 and 60 levels, the
    labels shuffled so their order says nothing), and values go missing completely at
    random: 10% of three numeric columns, 5% of the 8-level category.
    """
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(606)
    x, y = make_classification(
        n_samples=30_000,
        n_features=14,
        n_informative=7,
        n_redundant=3,
        n_classes=4,
        n_clusters_per_class=2,
        flip_y=0.03,
        random_state=606,
    )
    frame = pd.DataFrame(x, columns=[f"x{i:02d}" for i in range(x.shape[1])])
    for column, levels, prefix in (("x00", 8, "plan-"), ("x01", 60, "shop-")):
        bins = pd.qcut(frame.pop(column), levels, labels=False)
        labels = np.array([f"{prefix}{i:02d}" for i in rng.permutation(levels)])
        frame[prefix.rstrip("-")] = labels[bins.to_numpy()]
    _mask(frame, ["x02", "x05", "x09"], 0.10, rng)
    _mask(frame, ["plan"], 0.05, rng)
    frame["segment"] = np.array(["bronze", "silver", "gold", "platinum"])[y]
    return frame


def _friedman() -> pd.DataFrame:
    """Friedman #1 regression (5 informative of 10 features), 15% of values missing."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=50_000, n_features=10, noise=1.0, random_state=1991)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    _mask(frame, list(frame.columns), 0.15, np.random.default_rng(1991))
    frame["y"] = y
    return frame


DATASETS = {
    d.name: d
    for d in (
        Dataset(
            "breast_cancer",
            "binary",
            "target",
            _sklearn("load_breast_cancer"),
            "sklearn.datasets.load_breast_cancer",
        ),
        Dataset(
            "wine", "multiclass", "target", _sklearn("load_wine"), "sklearn.datasets.load_wine"
        ),
        Dataset(
            "digits",
            "multiclass",
            "target",
            _sklearn("load_digits"),
            "sklearn.datasets.load_digits",
        ),
        Dataset(
            "diabetes",
            "regression",
            "target",
            _sklearn("load_diabetes"),
            "sklearn.datasets.load_diabetes",
        ),
        Dataset(
            "churn",
            "binary",
            "churned",
            _churn(BENCH_ROWS),
            "make_churn(10_000)",
            drop_for_peers=("customer_id",),
            date_columns=("signup_date",),
        ),
        Dataset("houses", "regression", "price", _houses, "make_houses(10_000)"),
        Dataset("fair", "binary", "had_affair", _fair, "statsmodels.datasets.fair"),
        Dataset("randhie", "regression", "mdvis", _randhie, "statsmodels.datasets.randhie"),
        Dataset("anes96", "multiclass", "PID", _anes96, "statsmodels.datasets.anes96"),
        Dataset("segments", "multiclass", "segment", _segments, "make_classification + gaps"),
        Dataset("friedman", "regression", "y", _friedman, "make_friedman1 + gaps"),
        Dataset(
            "churn_200k",
            "binary",
            "churned",
            _churn(BIG_ROWS),
            "make_churn(200_000)",
            drop_for_peers=("customer_id",),
            date_columns=("signup_date",),
        ),
    )
}

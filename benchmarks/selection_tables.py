"""The tables `portfolio.py` chooses the search's first trials on.

None of them is one of `tables.py`'s comparison tables: a portfolio chosen on the tables
it is then compared on would fit the test. They are seeded generators (other generators,
seeds, shapes and noise than `tables.py`'s) and bundled data sets `tables.py` does not
use, so nothing is downloaded. Together they cover the three tasks, 150 to 50,000 rows,
string categorical columns and missing values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tables import Dataset


def _numbered(x: np.ndarray, prefix: str = "x") -> pd.DataFrame:
    return pd.DataFrame(x, columns=[f"{prefix}{i:02d}" for i in range(x.shape[1])])


def _categorise(frame: pd.DataFrame, column: str, levels: int, rng: np.random.Generator) -> None:
    """Bin a numeric column into `levels` string categories whose order says nothing."""
    bins = pd.qcut(frame.pop(column), levels, labels=False)
    labels = np.array([f"{column}-{i:02d}" for i in rng.permutation(levels)])
    frame[f"{column}_level"] = labels[bins.to_numpy()]


def _gaps(frame: pd.DataFrame, columns: list[str], share: float, rng: np.random.Generator) -> None:
    """Values go missing completely at random."""
    for column in columns:
        frame[column] = frame[column].mask(rng.random(len(frame)) < share)


def _iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame


def _star98() -> pd.DataFrame:
    """California schools (1998): the share of pupils above the national maths median."""
    from statsmodels.datasets import star98

    frame = star98.load_pandas().data
    above, below = frame.pop("NABOVE"), frame.pop("NBELOW")
    frame["above"] = above / (above + below)
    return frame


def _modechoice() -> pd.DataFrame:
    """Travel mode choice: is this mode (air, train, bus, car) the one a traveller took?"""
    from statsmodels.datasets import modechoice

    frame = modechoice.load_pandas().data.drop(columns=["individual"])
    frame["mode"] = np.array(["air", "train", "bus", "car"])[frame["mode"].astype(int) - 1]
    frame["choice"] = frame["choice"].astype(int)
    return frame


def _grunfeld() -> pd.DataFrame:
    """Investment of eleven US firms, 1935-1954, with the firm as a category."""
    from statsmodels.datasets import grunfeld

    return grunfeld.load_pandas().data


def _noisy_binary() -> pd.DataFrame:
    """Binary, 25 columns of which 6 informative, 8% of labels flipped, categories, gaps."""
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(11)
    x, y = make_classification(
        n_samples=1_600,
        n_features=25,
        n_informative=6,
        n_redundant=4,
        weights=[0.7],
        flip_y=0.08,
        class_sep=0.8,
        random_state=11,
    )
    frame = _numbered(x)
    _categorise(frame, "x00", 6, rng)
    _categorise(frame, "x01", 20, rng)
    _gaps(frame, ["x02", "x05", "x10", "x20"], 0.08, rng)
    frame["label"] = y
    return frame


def _friedman3_small() -> pd.DataFrame:
    from sklearn.datasets import make_friedman3

    x, y = make_friedman3(n_samples=700, noise=0.1, random_state=3)
    frame = _numbered(x, "f")
    frame["y"] = y
    return frame


def _multiclass_small() -> pd.DataFrame:
    """Five classes from 500 rows: 12 columns, 6 informative."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=500,
        n_features=12,
        n_informative=6,
        n_redundant=2,
        n_classes=5,
        n_clusters_per_class=1,
        flip_y=0.02,
        random_state=23,
    )
    frame = _numbered(x)
    frame["label"] = y
    return frame


def _hastie() -> pd.DataFrame:
    """Hastie et al. 10.2: the class is whether the squared norm passes a threshold."""
    from sklearn.datasets import make_hastie_10_2

    x, y = make_hastie_10_2(n_samples=12_000, random_state=7)
    frame = _numbered(x)
    frame["label"] = (y > 0).astype(int)
    return frame


def _linear_regression() -> pd.DataFrame:
    """A linear target (12 of 40 columns), one column binned into a category, gaps."""
    from sklearn.datasets import make_regression

    rng = np.random.default_rng(5)
    x, y = make_regression(
        n_samples=5_000, n_features=40, n_informative=12, noise=25.0, random_state=5
    )
    frame = _numbered(x)
    informative = frame.columns[np.argsort(-np.abs(np.corrcoef(x.T, y)[-1, :-1]))[0]]
    _categorise(frame, informative, 12, rng)
    _gaps(frame, ["x03", "x07", "x11", "x19", "x23"], 0.05, rng)
    frame["y"] = y
    return frame


def _friedman2() -> pd.DataFrame:
    """Friedman #2 (an impedance) with three columns of pure noise added."""
    from sklearn.datasets import make_friedman2

    rng = np.random.default_rng(2)
    x, y = make_friedman2(n_samples=3_000, noise=50.0, random_state=2)
    frame = _numbered(np.hstack([x, rng.normal(size=(len(x), 3))]), "f")
    frame["y"] = y
    return frame


def _friedman3_gaps() -> pd.DataFrame:
    """Friedman #3 (an arc tangent) on 15,000 rows, three noise columns, 10% gaps."""
    from sklearn.datasets import make_friedman3

    rng = np.random.default_rng(13)
    x, y = make_friedman3(n_samples=15_000, noise=0.1, random_state=13)
    frame = _numbered(np.hstack([x, rng.uniform(size=(len(x), 3))]), "f")
    _gaps(frame, list(frame.columns), 0.10, rng)
    frame["y"] = y
    return frame


def _multiclass_large() -> pd.DataFrame:
    """Five classes, three clusters each, two categories (10 and 40 levels), gaps."""
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(41)
    x, y = make_classification(
        n_samples=20_000,
        n_features=20,
        n_informative=8,
        n_redundant=4,
        n_classes=5,
        n_clusters_per_class=3,
        flip_y=0.05,
        random_state=41,
    )
    frame = _numbered(x)
    _categorise(frame, "x00", 10, rng)
    _categorise(frame, "x01", 40, rng)
    _gaps(frame, ["x02", "x06", "x09", "x14"], 0.06, rng)
    _gaps(frame, ["x00_level"], 0.03, rng)
    frame["label"] = np.array(["a", "b", "c", "d", "e"])[y]
    return frame


def _binary_large() -> pd.DataFrame:
    """50,000 rows, 15% positives, one 25-level category, 10% gaps in three columns."""
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(53)
    x, y = make_classification(
        n_samples=50_000,
        n_features=12,
        n_informative=6,
        n_redundant=2,
        weights=[0.85],
        flip_y=0.03,
        random_state=53,
    )
    frame = _numbered(x)
    _categorise(frame, "x00", 25, rng)
    _gaps(frame, ["x03", "x04", "x08"], 0.10, rng)
    frame["label"] = y
    return frame


SELECTION = {
    d.name: d
    for d in (
        Dataset("iris", "multiclass", "target", _iris, "sklearn.datasets.load_iris"),
        Dataset("star98", "regression", "above", _star98, "statsmodels.datasets.star98"),
        Dataset("modechoice", "binary", "choice", _modechoice, "statsmodels.datasets.modechoice"),
        Dataset("grunfeld", "regression", "invest", _grunfeld, "statsmodels.datasets.grunfeld"),
        Dataset(
            "noisy_binary",
            "binary",
            "label",
            _noisy_binary,
            "make_classification + categories, gaps",
        ),
        Dataset("friedman3_small", "regression", "y", _friedman3_small, "make_friedman3"),
        Dataset(
            "multiclass_small", "multiclass", "label", _multiclass_small, "make_classification"
        ),
        Dataset("hastie", "binary", "label", _hastie, "make_hastie_10_2"),
        Dataset(
            "linear_regression",
            "regression",
            "y",
            _linear_regression,
            "make_regression + a category, gaps",
        ),
        Dataset("friedman2", "regression", "y", _friedman2, "make_friedman2 + noise columns"),
        Dataset("friedman3_gaps", "regression", "y", _friedman3_gaps, "make_friedman3 + gaps"),
        Dataset(
            "multiclass_large",
            "multiclass",
            "label",
            _multiclass_large,
            "make_classification + categories, gaps",
        ),
        Dataset(
            "binary_large",
            "binary",
            "label",
            _binary_large,
            "make_classification + a category, gaps",
        ),
    )
}

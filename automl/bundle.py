"""The model bundle: a directory with the fitted pipeline and its model card.

The pipeline is stored with `skops.io`, which loads only types on an allow-list, so a
tampered file cannot run code; its SHA-256 is recorded in the card and checked before
loading. Files are written under temporary names and renamed into place, the JSON card
last: a bundle whose card exists is complete.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl import rundir
from automl.errors import BundleError, PluginError
from automl.events import trials_words

CARD_JSON = "model_card.json"
CARD_MARKDOWN = "model_card.md"
FORMAT_VERSION = 1
# Types every pipeline may contain beyond what skops trusts by default (scikit-learn, numpy):
# the temperature scaling of `automl.calibrate` is scikit-learn's, in private classes.
BASE_TRUSTED_TYPES = frozenset(
    {
        "collections.OrderedDict",
        "numpy.dtype",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._TemperatureScaling",
    }
)


@dataclass
class Bundle:
    pipeline: Any
    card: dict[str, Any]
    path: Path


def save(
    directory: str | Path,
    pipeline: Any,
    card: dict[str, Any],
    trusted: Iterable[str],
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write `pipeline`, the other `files` (name -> contents: explanations, report) and
    `card` into `directory`; return the directory. The card records each file's SHA-256."""
    import skops.io as sio

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = sio.dumps(_for_writing(pipeline))
    undeclared = set(sio.get_untrusted_types(data=data)) - BASE_TRUSTED_TYPES - set(trusted)
    if undeclared:
        raise PluginError(
            "The model holds types that no plugin declares as trusted:"
            f" {', '.join(sorted(undeclared))}; it could not be loaded again safely.",
            hint="The algorithm's plugin must list them in Algorithm.trusted_types.",
        )
    digest = hashlib.sha256(data).hexdigest()
    model_file = f"model-{digest[:16]}.skops"
    files = dict(files or {})
    card = {
        **card,
        "model": {"file": model_file, "sha256": digest, "format": "skops"},
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()},
    }
    _write_atomic(directory / model_file, data)
    for name, content in files.items():
        _write_atomic(directory / name, content)
    _write_atomic(directory / CARD_MARKDOWN, render_markdown(card).encode())
    _write_atomic(directory / CARD_JSON, json.dumps(card, indent=2, default=str).encode())
    for old in directory.glob("model-*.skops"):
        if old.name != model_file:
            old.unlink()
    return directory


def read_card(directory: str | Path) -> dict[str, Any]:
    directory = Path(directory)
    rundir.require_complete(directory)
    path = directory / CARD_JSON
    if not path.is_file():
        raise BundleError(
            f"{directory} is not a model bundle: it has no {CARD_JSON}.",
            hint="Point at the --output directory of a finished `automl run`.",
        )
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"Cannot read {path}: {exc}") from None
    if card.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{directory} holds a bundle of format {card.get('format_version')!r};"
            f" this automl reads format {FORMAT_VERSION}."
        )
    return card


def load(directory: str | Path, trusted: Iterable[str]) -> Bundle:
    """Load a bundle, refusing files whose checksum or types are not what they should be."""
    import skops.io as sio

    directory = Path(directory)
    card = read_card(directory)
    model = card.get("model", {})
    path = directory / str(model.get("file", ""))
    try:
        data = path.read_bytes()
    except OSError:
        raise BundleError(f"The model file {path} named by the card is missing.") from None
    if hashlib.sha256(data).hexdigest() != model.get("sha256"):
        raise BundleError(
            f"The model file {path} does not match the checksum in its card:"
            " the bundle is incomplete or was modified. It was not loaded."
        )
    found = set(sio.get_untrusted_types(data=data))
    refused = found - BASE_TRUSTED_TYPES - set(trusted)
    if refused:
        raise BundleError(
            f"Refusing to load {path}: it holds types no installed plugin vouches for:"
            f" {', '.join(sorted(refused))}.",
            hint="Install the plugin that trained it, or do not trust this file.",
        )
    pipeline = sio.loads(data, trusted=sorted(found))
    _relink(pipeline)
    return Bundle(pipeline=pipeline, card=card, path=directory)


# skops (0.16) writes an object out in full at each reference to it, and the wrappers automl
# exports refer to their fitted model twice: a decision threshold's `estimator` is its
# `estimator_`, a calibration's is that of its calibrated classifier, an ensemble's
# `named_estimators_` are its `estimators_`. Nested, an ensemble of 300-tree extra trees
# behind a threshold was written four times over: 95 MB, 5.2 s to save at the end of a
# 20 s run and 6.2 s to load, against 25 MB after. So the file is written from copies of
# the wrappers without the second reference, and `load` puts it back. The file stays a
# model scikit-learn predicts with when loaded by skops alone: a calibration's `estimator`
# may be None (its default), an ensemble need not have `named_estimators_`, and a
# threshold's `estimator` is an unfitted copy of the frozen model (its tags are read).


def _for_writing(model: Any) -> Any:
    """`model` as written: the wrappers on the way to the fitted models copied, each
    without its second reference; `model` itself is not changed."""
    from sklearn.frozen import FrozenEstimator

    kind = type(model).__name__
    if kind == "FrozenEstimator":
        return FrozenEstimator(_for_writing(model.estimator))
    if kind == "FixedThresholdClassifier" and model.estimator is model.estimator_:
        written = copy.copy(model)
        written.estimator_ = _for_writing(model.estimator_)
        written.estimator = _unfitted(model.estimator)
        return written
    if kind == "CalibratedClassifierCV" and all(
        c.estimator is model.estimator for c in model.calibrated_classifiers_
    ):
        written = copy.copy(model)
        written.estimator = None
        written.calibrated_classifiers_ = [copy.copy(c) for c in model.calibrated_classifiers_]
        for each in written.calibrated_classifiers_:
            each.estimator = _for_writing(each.estimator)
        return written
    if kind in ("VotingClassifier", "VotingRegressor") and _named_members(model) == getattr(
        model, "named_estimators_", None
    ):
        written = copy.copy(model)
        del written.named_estimators_
        written.estimators_ = [_for_writing(each) for each in model.estimators_]
        return written
    return model


def _unfitted(model: Any) -> Any:
    """An unfitted copy of `model` that holds nothing fitted (a frozen model's clone is the
    fitted model itself, so a calibration of one is rebuilt without it)."""
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator

    kind = type(model).__name__
    if kind == "FrozenEstimator":
        return FrozenEstimator(_unfitted(model.estimator))
    if kind == "CalibratedClassifierCV":
        return type(model)(**{**model.get_params(deep=False), "estimator": None})
    return clone(model)


def _named_members(model: Any) -> dict[str, Any] | None:
    names = [name for name, _ in model.estimators]
    if len(names) != len(model.estimators_):
        return None
    return dict(zip(names, model.estimators_, strict=True))


def _relink(model: Any) -> None:
    """Put back the second references a model was written without (see `_for_writing`);
    a bundle written before has them all, and is left as it is."""
    kind = type(model).__name__
    if kind == "FrozenEstimator":
        _relink(model.estimator)
    elif kind == "FixedThresholdClassifier":
        _relink(model.estimator_)
        if type(model.estimator).__name__ == "FrozenEstimator":
            model.estimator = model.estimator_
    elif kind == "CalibratedClassifierCV":
        for each in model.calibrated_classifiers_:
            _relink(each.estimator)
        if model.estimator is None:
            model.estimator = model.calibrated_classifiers_[0].estimator
    elif kind in ("VotingClassifier", "VotingRegressor"):
        for each in model.estimators_:
            _relink(each)
        if not hasattr(model, "named_estimators_"):
            model.named_estimators_ = _named_members(model)


def read_file(
    directory: str | Path,
    name: str,
    what: str = "explanations",
    hint: str = "It was made without explanations (--no-explain) or by an older automl.",
) -> bytes:
    """A file the card lists, after checking it against the checksum the card records; a
    `BundleError` saying the bundle has no `what` (with `hint`) if the card lists none."""
    directory = Path(directory)
    expected = read_card(directory).get("files", {}).get(name)
    if expected is None:
        raise BundleError(f"The bundle {directory} has no {what}: {name} is not in it.", hint=hint)
    try:
        content = (directory / name).read_bytes()
    except OSError as exc:
        raise BundleError(f"Cannot read {directory / name}: {exc.strerror}.") from None
    if hashlib.sha256(content).hexdigest() != expected:
        raise BundleError(
            f"{directory / name} does not match the checksum in its card:"
            " the bundle is incomplete or was modified. It was not used."
        )
    return content


def verify(directory: str | Path) -> list[str]:
    """One line per file of the bundle that is missing or does not match its checksum."""
    directory = Path(directory)
    card = read_card(directory)
    expected = dict(card.get("files", {}))
    model = card.get("model", {})
    expected[str(model.get("file", ""))] = model.get("sha256")
    problems = []
    for name, digest in expected.items():
        try:
            content = (directory / name).read_bytes()
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if hashlib.sha256(content).hexdigest() != digest:
            problems.append(f"{name} does not match its checksum (modified or incomplete)")
    return problems


def version_differences(card: dict[str, Any]) -> list[str]:
    """One line per library whose installed version differs from the one that made the
    bundle (a pipeline may predict differently, or not load, under another version)."""
    from importlib.metadata import PackageNotFoundError, version

    differences = []
    for name, made_with in card.get("versions", {}).items():
        if name == "python":
            continue
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != made_with:
            differences.append(f"{name} {made_with} made it; {installed} is installed")
    return differences


def _write_atomic(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes files private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render_markdown(card: dict[str, Any]) -> str:
    """The model card as Markdown, for people."""
    metric = card["metric"]["name"]
    cv = card["cv"]
    best = card["best"]
    members = best.get("ensemble") or []
    # With an ensemble, the parameters shown are those of the best single trial.
    single = best.get("best_single", best)
    lines = [
        f"# Model card: {card['target']} ({card['task']})",
        "",
        f"Made {card['created_at']} by automl {card['versions']['automl']}"
        f" in {card['timing']['wall_seconds']:.1f} s (budget {card['time_budget']} s),"
        f" seed {card['seed']}.",
        "",
        "## Result",
        "",
        _model_line(best, metric),
        f"- Cross-validated {metric} ({metric_direction(card)}): **{cv['score']:.6g}**"
        f" ± {cv['std']:.3g} over {cv_words(cv)}",
        f"- Fold scores: {', '.join(f'{s:.6g}' for s in cv['fold_scores'])}",
        refit_line(card),
        f"- Trials: {trials_words(card['trials'])}",
    ]
    if card.get("classes") is not None:
        lines.append(f"- Classes: {', '.join(map(str, card['classes']))}")
    if card.get("imbalance"):
        found = card["imbalance"]
        lines.append(
            f"- Imbalanced: {found['minority']!r} has {found['rows']} rows ({found['share']:.1%})"
        )
    if card.get("decision"):
        choice = card["decision"]
        lines.append(
            f"- Decision threshold: {card['classes'][1]!r} at probability"
            f" {choice['threshold']:.4g} or more, {choice['how']}"
        )
    found = card.get("calibration")
    if found:
        lines.append(f"- Probabilities: temperature scaling {found['why']}")
    test = card.get("test")
    if test:
        lines += ["", "## Held-out test", "", *_test_lines(test, metric)]
    curve = card.get("learning_curve")
    if curve:
        lines += ["", "## Learning curve", "", curve["verdict"]]
    parent = card.get("parent")
    if parent:
        lines += [
            "",
            "## Retrained from",
            "",
            f"- Parent: {parent['path']} (made {parent['created_at']}; model SHA-256"
            f" `{str(parent['model_sha256'])[:16]}`, data `{parent['data_fingerprint'][:16]}`)",
            f"- {parent['text']}",
        ]
    if members:
        lines += ["", "## Ensemble", "", "| trial | algorithm | weight |", "|---|---|---|"]
        lines += [f"| {m['trial']} | {m['algorithm']} | {m['weight']:.3g} |" for m in members]
    heading = (
        f"Parameters of the best single trial ({single['trial']})" if members else "Best parameters"
    )
    lines += ["", f"## {heading}", "", "| parameter | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in single["params"].items()]
    explanation = card.get("explanation")
    if explanation:
        explained = f"{explanation['rows']} of {explanation['of_rows']} training rows"
        lines += [
            "",
            "## Explanation",
            "",
            f"- Columns that matter most: {', '.join(explanation['top'])}",
            f"- SHAP values by the {explanation['method']} explainer, in"
            f" {explanation['space']} units, on {explained}",
            "- Plots, diagnostics and the full report: report.html",
        ]
    lines += ["", "## Leaderboard", "", f"| rank | trial | algorithm | {metric} | std |"]
    lines.append("|---|---|---|---|---|")
    lines += [
        f"| {row['rank']} | {row['trial']} | {row['algorithm']} | {row[metric]:.6g} |"
        f" {row['std']:.3g} |"
        for row in card["leaderboard"][:20]
    ]
    lines += ["", "## Features", "", "| column | kind | dtype | notes |", "|---|---|---|---|"]
    for column in card["schema"]["columns"]:
        notes = ", ".join(column["categories"][:8]) or ", ".join(column["parts"])
        lines.append(f"| {column['name']} | {column['kind']} | {column['dtype']} | {notes} |")
    for name, reason in card["schema"]["dropped"].items():
        lines.append(f"| {name} | dropped | | {reason} |")
    lines += [
        "",
        "## Data",
        "",
        f"- Source: {card['data']['source']}",
        f"- Rows x columns: {card['data']['rows']} x {card['data']['columns']}",
        f"- SHA-256 fingerprint: `{card['data']['fingerprint']}`",
        "",
        "## Versions",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in card["versions"].items()]
    return "\n".join(lines) + "\n"


def _test_lines(test: Mapping[str, Any], metric: str) -> list[str]:
    lines = [
        f"Scored once on {test['rows']} rows the search never saw ({test['source']}), each"
        f" score with its {test['confidence']:.0%} bootstrap interval:",
        "",
        "| metric | score | interval |",
        "|---|---|---|",
    ]
    for name, score in test["scores"].items():
        value = "" if score["score"] is None else f"{score['score']:.6g}"
        interval = (
            f"{score['low']:.4g} to {score['high']:.4g}"
            if score.get("low") is not None
            else score.get("note", "")
        )
        lines.append(
            f"| {name}{' (the metric)' if name == metric else ''} | {value} | {interval} |"
        )
    if test.get("cv"):
        cv = test["cv"]
        lines += [
            "",
            f"Cross-validated {metric}: {cv['score']:.6g} ({cv['low']:.4g} to {cv['high']:.4g})"
            + (f", of the exported decision rule ({cv['how']})" if cv.get("how") else ""),
        ]
    if test.get("agreement"):
        lines += ["", test["agreement"]["text"]]
    return lines


def cv_words(cv: Mapping[str, Any]) -> str:
    """How the model card's score was cross-validated: "5 folds", or with repeats
    "5 folds, repeated 3 times"; on part of them, "2 of its 15 folds (5 folds, ...)"."""
    repeats = cv.get("repeats", 1)
    words = f"{cv['folds']} folds" + (f", repeated {repeats} times" if repeats > 1 else "")
    return f"{partial_words(cv)} ({words})" if cv.get("partial") else words


def partial_words(cv: Mapping[str, Any]) -> str:
    """For a model scored on part of its folds (no trial finished them all: see
    `automl.search.partial_trials`), "2 of its 15 folds"; else ""."""
    part = cv.get("partial")
    return f"{part['folds']} of its {part['of']} folds" if part else ""


def refit_line(card: Mapping[str, Any]) -> str:
    """How the exported model was fitted, as a line of the card."""
    bagged = card["refit"].get("bagged_folds")
    if bagged:
        return (
            f"- Bagged: the average of the models of the search's {bagged} folds, each fitted"
            f" on {bagged - 1}/{bagged} of the {card['data']['rows']} rows, nothing refitted"
        )
    rows = f"- Refitted on {card['refit']['rows']} of {card['data']['rows']} rows"
    return rows + rounds_note(card["refit"]) + sample_note(card)


def rounds_note(refit: Mapping[str, Any]) -> str:
    """ ", with 212 of its 300 boosting rounds, cut to keep the time budget" for a refit
    that stopped adding rounds in time (the card's `refit.rounds_cut`), ", with 100 of
    its 300 boosting rounds at a learning rate of 0.3 for 0.1, to keep the time budget" for
    one planned so (`refit.rounds_scaled`), both if both, else ""."""
    cut, scaled = refit.get("rounds_cut"), refit.get("rounds_scaled")
    kept = "cut to keep the time budget"
    if not scaled:
        return f", with {cut['kept']} of its {cut['of']} boosting rounds, {kept}" if cut else ""
    note = f", with {scaled['rounds']} of its {scaled['of']} boosting rounds at a learning rate"
    note += f" of {scaled['rate']:.3g} for {scaled['rate_was']:.3g}"
    if not cut:
        return note + ", to keep the time budget"
    return note + f", of which {cut['kept']} were built, {kept}"


def sample_note(card: dict[str, Any]) -> str:
    """A note for the refit line when the trials used a sample of the rows, else ""."""
    searched = card["data"].get("search_rows", card["data"]["rows"])
    if searched >= card["data"]["rows"]:
        return ""
    return f" (the trials used a seeded sample of {searched} rows)"


def ensemble_words(algorithms: Sequence[str]) -> str:
    """How many members of which algorithms: "an ensemble of 4: 3 lightgbm, 1 linear"."""
    counts: dict[str, int] = {}
    for name in algorithms:
        counts[name] = counts.get(name, 0) + 1
    order = sorted(counts, key=lambda name: (-counts[name], algorithms.index(name)))
    return f"an ensemble of {len(algorithms)}: " + ", ".join(f"{counts[n]} {n}" for n in order)


def model_words(best: Mapping[str, Any]) -> str:
    """The exported model in words: "lightgbm (trial 3)", or "an ensemble of 6: 4 lightgbm,
    1 hist_gradient_boosting, 1 linear"."""
    members = best.get("ensemble") or []
    if not members:
        return f"{best['algorithm']} (trial {best['trial']})"
    return ensemble_words([m["algorithm"] for m in members])


def _model_line(best: dict[str, Any], metric: str) -> str:
    members = best.get("ensemble") or []
    if not members:
        return f"- Best algorithm: **{best['algorithm']}** (trial {best['trial']})"
    single = best["best_single"]
    return (
        f"- Model: **{model_words(best)}**, a weighted average of their predictions; the best"
        f" single trial was {single['algorithm']} (trial {single['trial']}, {metric}"
        f" {single['score']:.6g})"
    )


def metric_direction(card: dict[str, Any]) -> str:
    return "higher is better" if card["metric"]["direction"] == "maximize" else "lower is better"

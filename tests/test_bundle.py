"""The model bundle: every built-in model round-trips; tampered files are refused."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
import skops.io as sio

from automl import bundle
from automl.contract import Task
from automl.data import encode_target, infer_schema, prepare
from automl.errors import BundleError
from automl.plugins import get_registry
from automl.preprocess import build_candidate

TASK_TARGETS = {Task.BINARY: "bought", Task.MULTICLASS: "city", Task.REGRESSION: "income"}


def _fitted(mixed, algorithm, task):
    target = TASK_TARGETS[task]
    frame = mixed.dropna(subset=[target]).reset_index(drop=True)
    schema = infer_schema(frame, target, task)
    params = algorithm.defaults[0] if algorithm.defaults else {}
    candidate = build_candidate(algorithm, schema, params, task, 0, 1)
    pipeline = candidate.fit(prepare(frame, schema), encode_target(frame[target], schema))
    return frame, schema, pipeline


@pytest.mark.parametrize("task", list(Task))
@pytest.mark.parametrize("name", sorted(get_registry().algorithms))
def test_every_builtin_model_saves_and_loads(tmp_path, monkeypatch, mixed, name, task):
    registry = get_registry()
    frame, schema, pipeline = _fitted(mixed, registry.algorithm(name), task)
    # The Markdown card needs a whole card; a partial one does for the pipeline's round trip.
    monkeypatch.setattr(bundle, "render_markdown", lambda card: "")
    bundle.save(
        tmp_path, pipeline, {"format_version": bundle.FORMAT_VERSION}, registry.trusted_types()
    )
    loaded = bundle.load(tmp_path, registry.trusted_types())
    X = prepare(frame, schema)
    method = "predict" if task is Task.REGRESSION else "predict_proba"
    np.testing.assert_allclose(getattr(loaded.pipeline, method)(X), getattr(pipeline, method)(X))


@pytest.fixture
def saved(tmp_path, mixed):
    from automl import AutoML

    model = AutoML(time_budget=30, n_trials=2, cv=3, algorithms=["linear"])
    model.fit(mixed, target="bought", output=tmp_path / "m")
    return tmp_path / "m"


def test_modified_model_file_is_refused(saved):
    card = json.loads((saved / bundle.CARD_JSON).read_text())
    model = saved / card["model"]["file"]
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(BundleError, match="does not match the checksum"):
        bundle.load(saved, get_registry().trusted_types())


def test_untrusted_type_is_refused_even_with_a_matching_checksum(saved):
    """An attacker who rewrites the card's checksum still cannot smuggle in a type."""
    from fractions import Fraction

    data = sio.dumps({"model": Fraction(1, 3)})
    assert "fractions.Fraction" in sio.get_untrusted_types(data=data)
    card = json.loads((saved / bundle.CARD_JSON).read_text())
    (saved / card["model"]["file"]).write_bytes(data)
    card["model"]["sha256"] = hashlib.sha256(data).hexdigest()
    (saved / bundle.CARD_JSON).write_text(json.dumps(card))
    with pytest.raises(BundleError, match=r"fractions\.Fraction"):
        bundle.load(saved, get_registry().trusted_types())


def test_bundle_without_card_is_not_a_bundle(saved):
    (saved / bundle.CARD_JSON).unlink()
    with pytest.raises(BundleError, match="not a model bundle"):
        bundle.load(saved, get_registry().trusted_types())


def test_saving_again_replaces_the_model_and_leaves_no_temporary_files(saved):
    from automl import load

    model = load(saved)
    model.card_["seed"] = 99  # a different card, the same pipeline
    model.save(saved)
    files = sorted(p.name for p in saved.iterdir())
    card = json.loads((saved / bundle.CARD_JSON).read_text())
    assert [f for f in files if f.endswith(".skops")] == [card["model"]["file"]]
    assert not [f for f in files if f.startswith(".")]
    assert card["seed"] == 99
    assert (load(saved).predict(model_input := _rows()) == model.predict(model_input)).all()


def _rows():
    from support import make_mixed

    return make_mixed(20, seed=5)


def test_a_model_wrapped_twice_is_written_once_and_loads_whole(tmp_path, monkeypatch, mixed):
    """A calibrated ensemble behind a decision threshold refers to its members through
    several attributes; skops would write them out at each (four times over): the file
    holds them once, and the loaded model has every reference back."""
    from automl import calibrate, decision, ensemble

    registry = get_registry()
    members = [
        _fitted(mixed, registry.algorithm(n), Task.BINARY) for n in ("random_forest", "linear")
    ]
    frame, schema, _ = members[0]
    X, y = prepare(frame, schema), encode_target(frame["bought"], schema)
    voting = ensemble.voting_estimator([(i, m[2]) for i, m in enumerate(members)], [0.6, 0.4], 2)
    model = decision.with_threshold(calibrate.wrap(voting, 0.8, 2), 0.3, X, y)
    monkeypatch.setattr(bundle, "render_markdown", lambda card: "")
    card = bundle.save(tmp_path, model, {"format_version": 1}, registry.trusted_types())
    model_file = card / json.loads((card / bundle.CARD_JSON).read_text())["model"]["file"]

    def trees(data: bytes) -> int:
        with zipfile.ZipFile(io.BytesIO(data)) as written:
            return written.read("schema.json").count(b'"DecisionTreeClassifier"')

    forest = trees(sio.dumps(members[0][2]))
    assert forest > 10
    # Once, and the unfitted copy of the forest the ensemble's constructor holds.
    assert trees(model_file.read_bytes()) <= forest + 1
    # Saving left the model as it was.
    assert (
        model.estimator is model.estimator_ and voting.named_estimators_["trial_0"] is members[0][2]
    )
    # skops alone loads a model that predicts the same, the second references aside.
    alone = sio.load(model_file, trusted=sio.get_untrusted_types(file=model_file))
    np.testing.assert_allclose(alone.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(alone.predict(X), model.predict(X))
    loaded = bundle.load(tmp_path, registry.trusted_types()).pipeline
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.estimator is loaded.estimator_
    calibrated = loaded.estimator_.estimator
    assert calibrated.estimator is calibrated.calibrated_classifiers_[0].estimator
    inner = calibrate.inner_model(calibrated)
    assert list(inner.named_estimators_) == ["trial_0", "trial_1"]
    assert inner.named_estimators_["trial_1"] is inner.estimators_[1]
    # A bundle written before, with every reference, is left whole.
    whole = sio.dumps(model)
    before = sio.loads(whole, trusted=sio.get_untrusted_types(data=whole))
    bundle._relink(before)
    np.testing.assert_allclose(before.predict_proba(X), model.predict_proba(X))
    assert before.estimator is before.estimator_
    assert calibrate.inner_model(before.estimator_.estimator).named_estimators_.keys() == {
        "trial_0",
        "trial_1",
    }

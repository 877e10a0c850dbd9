"""The model bundle: every built-in model round-trips; tampered files are refused."""

from __future__ import annotations

import hashlib
import json

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

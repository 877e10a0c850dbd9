"""Plugin discovery and loading: each plugin on its own, a broken one reported and skipped,
failing hard only when it is asked for. In-process, through `load_registry`, with
throw-away distributions on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from plugin_fixtures import BAD_SPACE, BROKEN, COMMAND, COMMAND_RAISES, GOOD, install

from automl.contract import Algorithm, ContractError, Metric, Task
from automl.errors import AutoMLWarning, PluginError, UsageError
from automl.plugins import DEFAULT_PLUGINS, load_registry

BUILTIN_ALGORITHMS = {
    "lightgbm",
    "hist_gradient_boosting",
    "random_forest",
    "extra_trees",
    "linear",
    "knn",
    "mlp",
}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path for throw-away distributions; their modules are forgotten after."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        if name.startswith("fixture_"):
            del sys.modules[name]


def _plugin(registry, name: str):
    (info,) = [p for p in registry.plugins if p.name == name]
    return info


def test_an_installed_plugin_is_found_with_its_distribution_and_version(site: Path):
    install(site, "good", GOOD, distribution="automl-good", version="2.0.1")
    registry = load_registry(only=["good"])
    info = _plugin(registry, "good")
    assert (info.distribution, info.version, info.builtin, info.status) == (
        "automl-good",
        "2.0.1",
        False,
        "ok",
    )
    assert info.algorithms == ["good_logistic"]
    assert registry.algorithm("good_logistic").tasks == {Task.BINARY, Task.MULTICLASS}
    assert [p.name for p in registry.plugins if p.builtin] == list(DEFAULT_PLUGINS)


@pytest.mark.parametrize("mode", sorted(BROKEN))
def test_a_broken_plugin_is_reported_once_and_the_rest_keeps_working(site: Path, mode: str):
    body, error = BROKEN[mode]
    install(site, mode, body)
    install(site, "good", GOOD)
    with pytest.warns(AutoMLWarning) as caught:
        registry = load_registry(only=[mode, "good"])
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert messages[0].startswith(f"plugin {mode!r} is broken and was skipped: ")
    assert error in messages[0]
    info = _plugin(registry, mode)
    assert info.status == "broken" and error in info.error
    assert (info.algorithms, info.metrics, info.commands) == ([], [], [])
    assert set(registry.algorithms) == BUILTIN_ALGORITHMS | {"good_logistic"}
    assert registry.algorithm("linear").name == "linear"  # the built-in, not the duplicate
    assert not registry.pm.has_plugin(mode)


@pytest.mark.parametrize(
    ("mode", "asked"),
    [("raises", "raises"), ("bad_arity", "one_argument_space"), ("import_error", "import_error")],
)
def test_asking_for_what_a_broken_plugin_provides_fails_with_its_error(
    site: Path, mode: str, asked: str
):
    install(site, mode, BROKEN[mode][0])
    with pytest.warns(AutoMLWarning):
        registry = load_registry(only=[mode])
    with pytest.raises(PluginError) as raised:
        registry.algorithm(asked)
    assert f"comes from the plugin {mode!r}, which is broken" in raised.value.message
    assert BROKEN[mode][1] in raised.value.message


def test_an_unknown_name_points_at_a_plugin_that_broke_before_registering(site: Path):
    install(site, "import_error", BROKEN["import_error"][0])
    with pytest.warns(AutoMLWarning):
        registry = load_registry(only=["import_error"])
    with pytest.raises(PluginError, match="a broken plugin may be meant to provide it"):
        registry.metric("expected_profit")
    # A near miss of a known name is a typo, not the broken plugin's fault.
    with pytest.raises(UsageError, match="Did you mean roc_auc"):
        registry.metric("roc_uac")


def test_the_plugin_loaded_first_keeps_a_name_two_plugins_register(site: Path):
    install(site, "first", GOOD)
    install(site, "second", GOOD)
    with pytest.warns(AutoMLWarning, match="'good_logistic' is taken by the plugin 'first'"):
        registry = load_registry(only=["first", "second"])
    assert _plugin(registry, "first").status == "ok"
    assert _plugin(registry, "second").status == "broken"


def test_a_plugin_is_all_or_nothing(site: Path):
    body = """
@hookimpl
def automl_register_algorithms(register):
    register(Algorithm("fine_logistic", CLASSIFICATION, space, build))
    register(Algorithm("Not A Name", CLASSIFICATION, space, build))
"""
    install(site, "half", body)
    with pytest.warns(AutoMLWarning, match="algorithm name 'Not A Name' is invalid"):
        registry = load_registry(only=["half"])
    assert "fine_logistic" not in registry.algorithms
    with pytest.raises(PluginError, match="plugin 'half', which is broken"):
        registry.algorithm("fine_logistic")


def test_load_selection_empty_means_no_installed_plugin(site: Path):
    install(site, "good", GOOD)
    registry = load_registry(only=[])
    assert all(p.builtin for p in registry.plugins)
    assert "good_logistic" not in registry.algorithms


def test_load_selection_naming_a_missing_plugin_is_reported(site: Path):
    install(site, "good", GOOD)
    with pytest.warns(AutoMLWarning, match="names the plugin 'goood', which is not installed"):
        registry = load_registry(only=["good", "goood"])
    assert _plugin(registry, "good").status == "ok"


def test_strict_loading_raises_the_first_plugin_error(site: Path):
    install(site, "raises", BROKEN["raises"][0])
    with pytest.raises(PluginError, match="plugin 'raises' is broken: automl_register_alg"):
        load_registry(only=["raises"], strict=True)


def test_a_search_space_that_fails_when_sampled_still_registers(site: Path):
    # Only sampling finds this one; the search records its trials as failed (see the CLI
    # tests) and automl.testing tells the author.
    install(site, "inverted", BAD_SPACE)
    registry = load_registry(only=["inverted"])
    assert _plugin(registry, "inverted").status == "ok"


def test_commands_are_collected_and_added_to_a_group(site: Path):
    import click

    install(site, "greeter", COMMAND)
    registry = load_registry(only=["greeter"])
    assert _plugin(registry, "greeter").commands == ["hello"]
    group = click.Group()
    registry.add_commands(group)
    assert group.commands["hello"].help == "Greet NAME."


def test_a_command_hook_that_raises_breaks_only_that_plugin(site: Path):
    install(site, "grumpy", COMMAND_RAISES)
    install(site, "greeter", COMMAND)
    with pytest.warns(AutoMLWarning, match="automl_register_commands raised KeyError"):
        registry = load_registry(only=["grumpy", "greeter"])
    assert list(registry.commands) == ["hello"]


def test_a_command_named_like_one_of_automl_s_own_is_refused(site: Path):
    import click

    install(site, "greeter", COMMAND)
    registry = load_registry(only=["greeter"])
    group = click.Group()

    @group.command()
    def hello() -> None:
        """automl's own."""

    with pytest.warns(AutoMLWarning, match="the command name 'hello' is taken by automl itself"):
        registry.add_commands(group)
    assert group.commands["hello"].help == "automl's own."
    assert _plugin(registry, "greeter").status == "broken"


# The contract checks that run when a plugin registers ------------------------------


def _space(trial, context):
    return {}


def _build(params, task, seed, n_jobs):
    return None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "x", "tasks": ()}, "supports no task"),
        ({"name": "x", "tasks": "binary"}, None),
        ({"name": "x", "tasks": {"classification"}}, "tasks must be a set of"),
        ({"name": "x", "build": lambda params, task: None}, "build must accept 4 positional"),
        ({"name": "x", "search_space": "space"}, "search_space is not callable"),
        ({"name": "x", "defaults": {"C": 1.0}}, "defaults must be a sequence of mappings"),
        ({"name": "x", "trusted_types": "xgboost.core.Booster"}, "trusted_types must be"),
        ({"name": "x", "needs": "onehot"}, "needs must be an InputNeeds"),
    ],
)
def test_algorithm_contract(arguments: dict, message: str | None):
    fields = {"tasks": {"binary"}, "search_space": _space, "build": _build, **arguments}
    if message is None:
        assert Algorithm(**fields).tasks == {Task.BINARY}
        return
    with pytest.raises(ContractError, match=message):
        Algorithm(**fields)


def test_a_defaults_list_becomes_a_tuple():
    algorithm = Algorithm("x", {"binary"}, _space, _build, defaults=[{"C": 1.0}])
    assert algorithm.defaults == ({"C": 1.0},)


def test_metric_contract():
    with pytest.raises(ContractError, match=r"score must accept 2 positional arguments"):
        Metric("m", {"binary"}, "maximize", lambda y_true: 0.0)
    with pytest.raises(ContractError, match="regression has no probabilities"):
        Metric("m", {"regression"}, "minimize", lambda y, p: 0.0, needs_proba=True)
    # Keyword-only extras with defaults (a cost, a threshold) are fine.
    Metric("m", {"binary"}, "minimize", lambda y, p, *, cost=1.0: 0.0)

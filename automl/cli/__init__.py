"""The `automl` command line. Thin: it parses options, calls the core, shows results.

Only this package and the TUI import rich; heavy modules load inside the commands that
need them, so `automl --help` and `automl plugins` start fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from automl import __version__
from automl.errors import AutoMLError, Cancelled, ExitCode, UsageError

_STARTED = time.monotonic()
TASKS = ("auto", "binary", "multiclass", "regression")
# `automl evaluate` draws bootstrap resamples for at most this long.
EVALUATE_SECONDS = 10.0


class _Group(click.Group):
    """Adds the subcommands of installed plugins the first time commands are looked up."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            from automl.plugins import get_registry

            with _warnings_to(_print_warning):
                get_registry().add_commands(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # Always, so a plugin that claims one of our own command names is reported even
        # when that command is what the user runs.
        self._add_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)


@click.group(cls=_Group, invoke_without_command=True)
@click.version_option(__version__, prog_name="automl")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Find, explain and export the best model for a table, within a time budget.

    Without a command, opens the terminal UI (`automl tui`) when run in a terminal.
    """
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            ctx.invoke(tui)
            return
        click.echo(ctx.get_help())
        click.echo("\n(Not a terminal, so no terminal UI: `automl tui` opens it.)", err=True)


@cli.command()
@click.argument("data", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--target", help="The column to predict (with --like: the model's).")
@click.option(
    "--task",
    type=click.Choice(TASKS),
    default="auto",
    show_default=True,
    help="Inferred from the target unless given.",
)
@click.option("--metric", help="Metric to optimise [default: roc_auc, log_loss or rmse by task].")
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds of wall time for the whole run.",
)
@click.option("--n-trials", type=click.IntRange(min=1), help="Stop after this many trials.")
@click.option(
    "--cv",
    type=click.IntRange(min=2),
    default=5,
    show_default=True,
    help="Cross-validation folds (stratified for classification).",
)
@click.option(
    "--cv-repeats",
    type=click.IntRange(min=1),
    help="Repeat the k folds over other shuffles [default: with a --time-budget of 60 s or"
    " more, 3 under 1,000 rows, 2 under 4,000; else 1].",
)
@click.option("--algorithms", help="Comma-separated algorithm names [default: all].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--n-jobs",
    type=int,
    default=-1,
    show_default=True,
    help="Cores to use; -1 uses every core. Each runs a trial, one thread per fit (one"
    " trial uses them as threads when a copy of the table per core would not fit in memory).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for the trials and the model [default: runs/<data>-<time>].",
)
@click.option(
    "--storage",
    help="Optuna storage URL (postgresql://... lets `automl worker` join from other machines)"
    " or journal file for the trials [default: a file in --output].",
)
@click.option("--study", "study_name", help="Study name in --storage [default: automl-<output>].")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --output.")
@click.option(
    "--force", is_flag=True, help="Start over in an --output that holds a bundle or an old run."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes searching at once on this machine: the run and N-1 `automl worker`s.",
)
@click.option(
    "--no-ensemble",
    is_flag=True,
    help="Export the best single model, never an ensemble of the best ones.",
)
@click.option(
    "--no-explain",
    is_flag=True,
    help="Skip the SHAP explanations and the report, leaving their time to the search.",
)
@click.option(
    "--test",
    "test_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Labelled rows (the training columns) the search never sees; the model is scored"
    " on them once, with every metric of the task.",
)
@click.option(
    "--test-size",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    help="Instead of --test, hold out this fraction of DATA's rows (seeded, stratified for"
    " classification) before anything else sees them.",
)
@click.option(
    "--no-learning-curve",
    is_flag=True,
    help="Skip the learning curve, leaving its time to the search.",
)
@click.option(
    "--like",
    "like_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Retrain the model in this folder on DATA: its settings (options given override"
    " them), its configurations first, and both models scored on the same held-out rows.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary; no progress.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def run(
    data: Path,
    target: str,
    task: str,
    metric: str | None,
    time_budget: float,
    n_trials: int | None,
    cv: int,
    cv_repeats: int | None,
    algorithms: str | None,
    seed: int,
    n_jobs: int,
    output: Path | None,
    storage: str | None,
    study_name: str | None,
    resume: bool,
    force: bool,
    workers: int,
    no_ensemble: bool,
    no_explain: bool,
    test_file: Path | None,
    test_size: float | None,
    no_learning_curve: bool,
    like_dir: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Search for the best model for DATA (.csv, .tsv or .parquet) and save it.

    With --like MODEL_DIR, retrain that model on DATA and say which of the two is better."""
    from automl import forkserver

    # Its imports (two CPU-seconds) then run beside this process's own, on another core.
    forkserver.start()
    from automl.api import AutoML
    from automl.cli.progress import Reporter
    from automl.cli.summary import print_summary, summary

    like = None
    if like_dir is not None:
        like, target, given = _like(like_dir, target, output, click.get_current_context())
        task, metric, algorithms = given["task"], given["metric"], given["algorithms"]
        time_budget, cv, cv_repeats, seed = (
            given["time_budget"], given["cv"], given["cv_repeats"], given["seed"]
        )  # fmt: skip
    elif target is None:
        raise UsageError("Say which column to predict with --target COL.")

    if test_file is not None and test_size is not None:
        raise UsageError(
            "--test and --test-size both say which rows to hold out; give one of them."
        )
    if test_file is not None and test_file.resolve() == data.resolve():
        raise UsageError(
            f"--test {test_file} is the training table itself; its scores would not be those"
            " of unseen rows.",
            hint="Give a table of other rows, or --test-size to hold some of DATA out.",
        )
    if output is None:
        if resume:
            raise UsageError("--resume needs the --output directory of the interrupted run.")
        output = Path("runs") / f"{data.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    names = [n.strip() for n in algorithms.split(",") if n.strip()] if algorithms else None
    mode = "silent" if quiet or as_json else ("bar" if sys.stderr.isatty() else "lines")
    reporter = Reporter(_STARTED, time_budget, mode)
    model = AutoML(
        time_budget=time_budget,
        task=task,
        metric=metric,
        n_trials=n_trials,
        cv=cv,
        cv_repeats=cv_repeats,
        algorithms=names,
        seed=seed,
        n_jobs=n_jobs,
        storage=storage,
        study=study_name,
        ensemble=not no_ensemble,
        explanations=not no_explain,
        learning_curve=not no_learning_curve,
        on_event=reporter.handle,
        cancel=threading.Event(),
    )
    from automl.study import STUDY_PREFIX, mask

    name = study_name or f"{STUDY_PREFIX}-{output.resolve().name}"
    if storage and mode != "silent":
        click.echo(
            f"Workers may join from any machine: automl worker --storage {mask(storage)}"
            f" --study {name}",
            err=True,
        )
    helpers = _local_workers(workers - 1, storage or str(output / "study.journal"), name, n_jobs)
    finished = False
    try:
        with reporter, _warnings_to(reporter.warn), _ctrl_c_cancels(model.cancel):
            model.fit(
                data,
                target,
                test=test_file,
                test_size=test_size,
                like=like,
                output=output,
                resume=resume,
                force=force,
                clock_start=_STARTED,
            )
        finished = True
    except (Cancelled, KeyboardInterrupt):
        if (output / "study.journal").exists() or storage:
            where = f" --storage {mask(storage)}" if storage else ""
            where += f" --study {study_name}" if study_name else ""
            where += f" --test {test_file}" if test_file else ""
            where += f" --test-size {test_size:g}" if test_size else ""
            click.echo(
                f"The finished trials are kept; continue with:"
                f" automl run {data} --target {target} --output {output}{where} --resume",
                err=True,
            )
        raise
    finally:
        _stop(helpers, patience=5.0 if finished else 0.0)
    result = summary(model.card, output, time.monotonic() - _STARTED)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        print_summary(result)


@cli.command()
@click.option("--storage", required=True, help="The storage URL (or journal file) of the run.")
@click.option("--study", "study_name", required=True, help="The study name the run printed.")
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The run's data file as seen from this machine [default: the path the run recorded].",
)
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds [default: when the run stops searching].",
)
@click.option(
    "--n-jobs", type=int, default=-1, show_default=True, help="Threads per fit; -1 uses every core."
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for the run to start the study, when workers start first.",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
def worker(
    storage: str,
    study_name: str,
    data_path: Path | None,
    time_budget: float | None,
    n_jobs: int,
    wait: float,
    quiet: bool,
) -> None:
    """Join the search of an `automl run --storage URL`: run its trials here until it
    stops searching. Start any number, on any machine that reaches the storage."""
    from automl.distributed import join
    from automl.events import TrialFinished

    def say(text: str) -> None:
        if not quiet:
            click.echo(text, err=True)

    def joined(found: Any) -> None:
        say(
            f"Joined {found.study_name} on {found.storage}: {found.rows} rows of {found.data},"
            f" up to {found.seconds:.0f} s of search left."
        )

    def trial(event: Any) -> None:
        if isinstance(event, TrialFinished):
            value = "" if event.value is None else f" {event.value:.6g}"
            reason = f" ({event.reason})" if event.reason and event.state != "complete" else ""
            say(
                f"{time.monotonic() - _STARTED:6.1f}s  trial {event.number} {event.algorithm}"
                f" {event.state}{value} in {event.duration:.1f} s{reason}"
            )

    cancel = threading.Event()
    with _warnings_to(_print_warning), _ctrl_c_cancels(cancel):
        finished = join(
            storage,
            study_name,
            data_path=data_path,
            time_budget=time_budget,
            n_jobs=n_jobs,
            wait=wait,
            on_join=joined,
            on_event=trial,
            cancel=cancel,
        )
    say(f"Stopping after {finished.trials} trial(s) here: {finished.reason}.")


@cli.command()
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("data", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV file to write [default: stdout].",
)
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
def predict(model_dir: Path, data: Path, output: Path | None, proba: bool) -> None:
    """Predict DATA with the model saved in MODEL_DIR; write CSV."""
    import pandas as pd

    from automl import decision
    from automl.api import load
    from automl.data import check_columns, read_table

    if output is not None and output.resolve() == data.resolve():
        raise UsageError(f"--output {output} is the input file; automl will not overwrite it.")
    with _warnings_to(_print_warning):
        model = load(model_dir)
        if proba and model.schema_.classes is None:
            raise UsageError(f"--proba needs a classification model; {model_dir} is regression.")
        # Checked here so errors and warnings name the file, and made once: the labels come
        # from the probabilities as `AutoML.predict` makes them (through a binary model's
        # decision threshold, else the most probable class).
        frame = check_columns(read_table(data), model.schema_, str(data))
        if proba:
            probabilities = model.predict_proba(frame)
            labels = decision.labels(model.pipeline_, probabilities)
            probabilities.columns = [str(c) for c in probabilities.columns]
            result = pd.DataFrame({"prediction": labels}, index=frame.index)
            result = pd.concat([result, probabilities], axis=1)
        else:
            result = pd.DataFrame({"prediction": model.predict(frame)}, index=frame.index)
    if output is None:
        result.to_csv(sys.stdout, index=False)
    else:
        _write_text_atomic(output, result.to_csv(index=False))
        click.echo(f"Wrote {len(result)} predictions to {output}.", err=True)


@cli.command()
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("data", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Explain the first N rows of DATA.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Columns shown per row; the rest are summed.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write importance.csv (and explanations.csv for DATA) into this directory.",
)
def explain(model_dir: Path, data: Path | None, rows: int, top: int, output: Path | None) -> None:
    """Which columns matter to the model in MODEL_DIR and, with DATA, why it predicts
    what it does for DATA's first rows."""
    from automl.api import load
    from automl.bundle import read_card
    from automl.cli.explaining import print_importance, print_rows

    files: dict[str, str] = {}
    with _warnings_to(_print_warning):
        card = read_card(model_dir)
        _check_new_files(output, ["importance.csv"] + (["explanations.csv"] if data else []))
        model = load(model_dir)
        importance = model.importance()
        if data is None:
            print_importance(importance, card)
        else:
            from automl.data import check_columns, read_table

            frame = check_columns(read_table(data), model.schema_, str(data)).head(rows)
            why = model.explain(frame, top=top)
            print_rows(why, card, str(data))
            files["explanations.csv"] = why.to_csv(index=False)
    if output is not None:
        files["importance.csv"] = importance.to_csv(index=False)
        _write_files(output, {name: text.encode() for name, text in files.items()})


@cli.command()
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("labelled_data", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write evaluation.md, evaluation.html, evaluation.json and the plots here.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seeds the bootstrap resamples."
)
def evaluate(model_dir: Path, labelled_data: Path, as_json: bool, output: Path | None, seed: int):
    """Score the model in MODEL_DIR on LABELLED_DATA (a table with its target column):
    every metric of its task with a 95% bootstrap interval, beside the model's
    cross-validated estimate, and the diagnostics."""
    from automl import evaluate as evaluation
    from automl.api import load
    from automl.bundle import read_card
    from automl.cli.evaluating import print_evaluation
    from automl.contract import Task
    from automl.data import read_table

    with _warnings_to(_print_warning):
        card = read_card(model_dir)
        _check_new_files(output, evaluation.document_names(Task(card["task"])))
        model = load(model_dir)
        frame = read_table(labelled_data)
        found = evaluation.evaluate(
            model,
            frame,
            str(labelled_data),
            seed=seed,
            deadline=time.monotonic() + EVALUATE_SECONDS,
        )
    result = evaluation.summary(found, model.card)
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        print_evaluation(result, str(model_dir))
    if output is not None:
        _write_files(output, evaluation.documents(found, model.card, str(model_dir)))


@cli.command()
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("new_data", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write drift.md, drift.html, drift.json and a plot per drifted column here.",
)
@click.option(
    "--moderate",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    show_default=True,
    metavar="PSI",
    help="The PSI from which a column's drift is moderate.",
)
@click.option(
    "--major",
    type=click.FloatRange(min=0, min_open=True),
    default=0.25,
    metavar="PSI",
    show_default=True,
    help="The PSI from which a column's drift is major (exit code 4).",
)
@click.pass_context
def drift(
    ctx: click.Context,
    model_dir: Path,
    new_data: Path,
    as_json: bool,
    output: Path | None,
    moderate: float,
    major: float,
) -> None:
    """Compare NEW_DATA (new rows with the model's columns, such as the request log of
    `automl serve`) with the data the model in MODEL_DIR was trained on, column by column
    and by its predictions; with the target in NEW_DATA, also score the model on it.
    Exit code 4 when a column the model uses has major drift."""
    from automl import drift as check
    from automl.api import load
    from automl.cli.drifting import print_drift
    from automl.data import read_table

    with _warnings_to(_print_warning):
        check.check_thresholds(moderate, major)
        model = load(model_dir)
        reference = check.read_reference(model)
        frame = read_table(new_data)
        found = check.compare(
            reference, frame, model, str(new_data), moderate=moderate, major=major
        )
        files = check.documents(found, model.card, str(model_dir)) if output else {}
    _check_new_files(output, sorted(files))
    if as_json:
        click.echo(check.as_json(check.summary(found, model.card)).decode())
    else:
        print_drift(found, model.card, str(model_dir))
    if output is not None:
        _write_files(output, files)
    if found.major_found:
        ctx.exit(ExitCode.DRIFT)


def _like(
    model_dir: Path, target: str | None, output: Path | None, ctx: click.Context
) -> tuple[Any, str, dict[str, Any]]:
    """The model `run --like` retrains, its target, and the options of the run that made
    it, overridden by those given on this command line."""
    from automl import retrain
    from automl.api import load

    retrain.check_output(model_dir, output)
    with _warnings_to(_print_warning):
        champion = load(model_dir)
        given = retrain.settings(champion.card)
    card = champion.card
    if target is not None and target != card["target"]:
        raise UsageError(
            f"--target {target} is not the target of {model_dir} ({card['target']!r}); a"
            " retrained model predicts the same column.",
            hint="Leave --target out, or start a new run without --like.",
        )
    for name in list(given):
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            given[name] = ctx.params[name]
    if given["algorithms"] and not isinstance(given["algorithms"], str):
        given["algorithms"] = ",".join(given["algorithms"])
    return champion, card["target"], given


def _check_new_files(directory: Path | None, names: list[str]) -> None:
    if directory is None:
        return
    existing = [n for n in names if (directory / n).exists()]
    if existing:
        raise UsageError(
            f"{directory} already holds {', '.join(existing)}; automl will not overwrite it.",
            hint="Choose another --output directory.",
        )


@cli.command()
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the whole model card as JSON.")
def info(model_dir: Path, as_json: bool) -> None:
    """Show the model card of the bundle in MODEL_DIR, and check its files."""
    from automl.bundle import CARD_MARKDOWN, read_card, verify, version_differences

    card = read_card(model_dir)
    for problem in verify(model_dir):
        _print_warning(f"{model_dir}: {problem}; the model will not load.")
    differences = version_differences(card)
    if differences:
        _print_warning(
            f"{model_dir} was made with other library versions: {'; '.join(differences)}."
        )
    if as_json:
        click.echo(json.dumps(card, indent=2))
    else:
        click.echo((model_dir / CARD_MARKDOWN).read_text())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List the built-in and installed plugins and what each adds."""
    from automl.plugins import get_registry

    with _warnings_to(_print_warning):
        registry = get_registry()
    rows = [p.as_dict() for p in registry.plugins]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("plugin", "distribution", "algorithms", "metrics", "commands", "status")
    for column in table.columns:
        column.overflow = "fold"
    for row in rows:
        status = "ok" if row["status"] == "ok" else f"[red]broken[/]: {row['error']}"
        table.add_row(
            row["name"],
            f"{row['distribution']} {row['version']}" if row["version"] else "built-in",
            ", ".join(row["algorithms"]),
            ", ".join(row["metrics"]),
            ", ".join(row["commands"]),
            status,
        )
    Console().print(table)


@cli.command()
@click.argument("data", required=False, type=click.Path(path_type=Path))
def tui(data: Path | None) -> None:
    """Open the terminal UI on DATA if given: a table, a folder to browse, or a model."""
    if data is not None and not data.exists():
        raise UsageError(f"There is no file or folder {data}.", hint="Check the path.")
    from automl.tui import make_app

    make_app(data).run()


@contextlib.contextmanager
def _ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks the core to stop at its next safe point (within a fraction of
    a second, keeping the trial store consistent); a second one stops at once."""

    def handle(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        click.echo("Stopping... (press Ctrl-C again to stop at once)", err=True)

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _warnings_to(show: Any) -> Iterator[None]:
    """Show automl's warnings as one-line messages; hide third-party library warnings."""
    from automl.errors import AutoMLWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", AutoMLWarning)
        warnings.showwarning = lambda message, *args, **kwargs: show(str(message))
        yield


def _print_warning(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def _write_files(directory: Path, files: dict[str, bytes]) -> None:
    """Write each file (name -> content) into `directory`, atomically, and say so."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        _write_bytes_atomic(directory / name, content)
    click.echo(f"Wrote {', '.join(sorted(files))} to {directory}.", err=True)


def _write_text_atomic(path: Path, text: str) -> None:
    _write_bytes_atomic(path, text.encode())


def _write_bytes_atomic(path: Path, content: bytes) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _local_workers(count: int, storage: str, study: str, n_jobs: int) -> list[Any]:
    """`automl worker` processes sharing this run's study (its journal file by default);
    they wait for the run to create it and stop when it stops searching."""
    import subprocess

    command = [sys.executable, "-m", "automl", "worker", "--storage", storage, "--study", study,
               "--wait", "120", "--n-jobs", str(n_jobs), "--quiet"]  # fmt: skip
    # The run already shows the warnings about the data and reports their trials.
    quiet = dict.fromkeys(("stdin", "stdout", "stderr"), subprocess.DEVNULL)
    return [subprocess.Popen(command, **quiet) for _ in range(count)]


def _stop(helpers: list[Any], patience: float) -> None:
    """Give the local workers `patience` seconds to notice the run stopped searching (they
    look every two seconds), then stop them."""
    import subprocess

    deadline = time.monotonic() + patience
    for helper in helpers:
        try:
            code = helper.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
            continue
        if code not in (ExitCode.OK, ExitCode.INTERRUPTED):
            _print_warning(f"a local worker (pid {helper.pid}) stopped with exit code {code}.")


def _masked(text: str) -> str:
    """`text` without the password of any storage URL in it."""
    if "://" not in text:
        return text
    from automl.study import mask

    return mask(text)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn errors into messages and exit codes."""
    try:
        code = cli.main(args=argv, prog_name="automl", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except (KeyboardInterrupt, Cancelled):
        click.echo("Interrupted.", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except AutoMLError as exc:
        click.echo(f"Error: {_masked(exc.message)}", err=True)
        if exc.hint:
            click.echo(exc.hint, err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(ExitCode.OK)
    except Exception as exc:
        if os.environ.get("AUTOML_DEBUG"):
            raise
        text = _masked(f"{type(exc).__name__}: {exc}")
        click.echo(f"Error: automl failed unexpectedly: {text}", err=True)
        click.echo("Set AUTOML_DEBUG=1 to see the traceback, and please report it.", err=True)
        sys.exit(ExitCode.RUN_FAILED)
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


from automl.cli.serving import serve  # noqa: E402

cli.add_command(serve)

# automl's own commands; those of plugins are added to `cli` when commands are first looked up.
OWN_COMMANDS = frozenset(cli.commands)

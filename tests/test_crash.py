"""Crash safety: `automl run` killed with SIGKILL during the search, the refit and every
step of the export. After each kill the output directory is marked INCOMPLETE (never a
bundle that looks complete and is not), `info` and `predict` say so, and `--resume`
goes on without losing a finished trial. A directory in use, or holding a bundle, is
refused unless --resume or --force say what to do with it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from support import HELPERS, assert_clean_failure, run_cli

# One shuffle of the folds (at these budgets a 300-row table's would be repeated three
# times) and no learning curve: the crashes bear on neither.
RUN = [
    "--target", "bought", "--algorithms", "linear,lightgbm", "--cv", "3", "--cv-repeats", "1",
    "--no-learning-curve",
]  # fmt: skip


def _trials(out):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if not (out / "study.journal").exists():  # (opening it would create it)
        return []
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "study.journal")))
    summaries = optuna.get_all_study_summaries(storage)
    if not summaries:  # the run has not created its study yet
        return []
    return optuna.load_study(study_name=summaries[0].study_name, storage=storage).trials


def _complete(out) -> dict[int, float]:
    return {t.number: t.value for t in _trials(out) if t.state.name == "COMPLETE"}


def _assert_marked_incomplete(out, data=None):
    """What a user sees in a directory whose run was killed."""
    assert (out / "INCOMPLETE").exists(), sorted(p.name for p in out.iterdir())
    info = run_cli("info", str(out))
    assert_clean_failure(info, 2, "incomplete", "--resume")
    if data is not None:
        predict = run_cli("predict", str(out), str(data))
        assert_clean_failure(predict, 2, "incomplete")
        assert predict.stdout == ""


def _crash_at(point, *args):
    """Run `automl ARGS` and kill it with SIGKILL at `point` (see helpers/crash_at.py);
    return its exit code (-9 when it got there)."""
    command = [sys.executable, str(HELPERS / "crash_at.py"), point, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120).returncode


def test_killed_in_search_refit_and_export_resumes_to_a_complete_bundle(tmp_path, mixed_csv):
    out = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, "-m", "automl", "run", str(mixed_csv), *RUN, "--output", str(out),
         "--n-trials", "500", "--time-budget", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(_complete(out)) < 2:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.2)

    # While it runs, the directory is in use: no second run, whatever the flags.
    for flags in ([], ["--resume"], ["--force"]):
        second = run_cli("run", str(mixed_csv), *RUN, "--output", str(out), *flags)
        assert_clean_failure(second, 2, "in use by another automl run", f"pid {first.pid}")
    assert_clean_failure(run_cli("info", str(out)), 2, "being written by an automl run")

    # Killed during the search.
    first.send_signal(signal.SIGKILL)
    first.wait()
    kept = _complete(out)
    _assert_marked_incomplete(out, mixed_csv)
    again = run_cli("run", str(mixed_csv), *RUN, "--output", str(out), "--n-trials", "2")
    assert_clean_failure(again, 2, "holds an interrupted run", "--resume", "--force")

    resume = ["run", str(mixed_csv), *RUN, "--output", str(out), "--resume", "--time-budget", "60"]
    n_trials = ["--n-trials", str(len(kept) + 3)]
    # Killed as the refit starts (after a few more trials).
    assert _crash_at("refit", *resume, *n_trials) == -signal.SIGKILL
    assert _complete(out).items() >= kept.items()  # no finished trial lost or changed
    kept = _complete(out)
    assert len(kept) > 2
    _assert_marked_incomplete(out)

    # Killed as the explanation starts, after the first and the second file of the
    # bundle, and when everything is written, model card included, but the run has not yet
    # said it is done: each time the directory is marked incomplete, the trials unchanged.
    for point in ("explain", "write:1", "write:2", "release"):
        assert _crash_at(point, *resume, *n_trials) == -signal.SIGKILL, point
        assert _complete(out) == kept  # nothing left to search: the trials stay as they were
        _assert_marked_incomplete(out, mixed_csv if point == "release" else None)
    assert (out / "model_card.json").exists()  # written, yet not taken for a bundle

    finished = run_cli(*resume, *n_trials)
    assert finished.returncode == 0, finished.stderr
    assert not (out / "INCOMPLETE").exists()
    card = json.loads(run_cli("info", str(out), "--json").stdout)
    assert card["study"]["resumed"] is True
    assert card["trials"]["complete"] == len(kept) == len(_complete(out))
    predict = run_cli("predict", str(out), str(mixed_csv))
    assert predict.returncode == 0, predict.stderr


def test_a_bundle_is_replaced_only_with_force(tmp_path, mixed_csv):
    out = tmp_path / "run"
    args = ["run", str(mixed_csv), *RUN, "--output", str(out), "--n-trials", "2"]
    assert run_cli(*args).returncode == 0
    before = json.loads((out / "model_card.json").read_text())

    refused = run_cli(*args)
    assert_clean_failure(refused, 2, "already holds a model bundle", "--force")
    assert json.loads((out / "model_card.json").read_text()) == before  # untouched

    forced = run_cli(*args, "--seed", "1", "--force")
    assert forced.returncode == 0, forced.stderr
    after = json.loads((out / "model_card.json").read_text())
    assert (after["seed"], after["created_at"] >= before["created_at"]) == (1, True)
    assert after["trials"]["complete"] == 2  # a new search, not the old trials and more
    assert not (out / "INCOMPLETE").exists()


def test_resume_and_force_together_are_refused(tmp_path, mixed_csv):
    out = tmp_path / "run"
    result = run_cli("run", str(mixed_csv), *RUN, "--output", str(out), "--resume", "--force")
    assert_clean_failure(result, 2, "--force")
    assert not out.exists()


def test_a_run_stopped_by_bad_input_leaves_no_directory(tmp_path, mixed_csv):
    out = tmp_path / "run"
    result = run_cli("run", str(mixed_csv), "--target", "bought", "--output", str(out),
                     "--storage", "postgresql://automl:hunter2@127.0.0.1:1/none")  # fmt: skip
    assert_clean_failure(result, 2, "Cannot open the storage", "automl:***@")
    assert "hunter2" not in result.stderr
    assert not out.exists()

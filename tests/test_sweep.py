"""``zoo sweep`` in this process: a real grid, a sampled sweep, seeds, a failing trial, pruning,
the objective, and a frozen backbone's features extracted once for the whole sweep.

Every sweep runs the real classification task on scikit-learn's digits (a small MLP, 1-3
epochs) through ``zoo.cli.main``; the study is Optuna's SQLite file in the sweep folder.
"""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from tests.test_report_page import Page, decoded
from zoo.cli import main

RECIPE = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 2, batch_size: 64, plots: false, device: cpu}
    data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}
    model: {name: mlp, hidden: [16]}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.003}
""")


@pytest.fixture
def recipe(tmp_path) -> Path:
    path = tmp_path / "digits.yaml"
    path.write_text(RECIPE)
    return path


def sweep(folder: Path, *args) -> dict:
    """Run ``zoo sweep ARGS --output folder`` in this process; return its sweep.json."""
    assert main(["sweep", *map(str, args), "--output", str(folder)]) == 0
    return json.loads((folder / "sweep.json").read_text())


def test_grid_runs_every_point_once_and_leaves_run_folders_sweep_json_pictures_and_a_sorted_table(recipe, tmp_path, capsys):
    folder = tmp_path / "grid"
    document = sweep(folder, recipe, "optimizer.lr=0.01,0.002", "model.hidden=[16],[32,32]", "task.epochs=1")
    out = capsys.readouterr().out

    assert document["study"]["sampler"] == "grid" and document["study"]["direction"] == "minimize"
    assert document["space"] == {"optimizer.lr": {"kind": "grid", "values": [0.01, 0.002]},
                                 "model.hidden": {"kind": "grid", "values": ["[16]", "[32,32]"]}}
    trials = document["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert {(t["params"]["optimizer.lr"], t["params"]["model.hidden"]) for t in trials} == {
        (0.01, "[16]"), (0.01, "[32,32]"), (0.002, "[16]"), (0.002, "[32,32]")}
    assert sorted(p.name for p in (folder / "trials").iterdir()) == ["0000", "0001", "0002", "0003"]
    for t in trials:
        assert t["state"] == "complete" and t["runs"] == [f"trials/{t['number']:04d}"] and t["error"] is None
        run = folder / t["runs"][0]
        report = json.loads((run / "report.json").read_text())
        assert t["value"] == pytest.approx(report["best"]["valid_loss"]) and t["values"] == [t["value"]]
        written = (run / "recipe.yaml").read_text()  # the trial's values merged into an ordinary run's recipe
        assert f"lr: {t['params']['optimizer.lr']}" in written and "epochs: 1" in written
        assert (run / "checkpoints" / "best.pt").is_file() and (run / "metrics.jsonl").is_file()
    best = min(trials, key=lambda t: t["value"])
    assert document["best"] == {k: best[k] for k in ("number", "value", "params", "runs")}
    # the study is Optuna's own SQLite file, which knows the four finished trials
    with sqlite3.connect(folder / "study.db") as db:
        assert db.execute("select count(*) from trials where state = 'COMPLETE'").fetchone() == (4,)
    for name in ("objective", "params", "curves"):
        assert document["pictures"][name] == f"{name}.png"
        with Image.open(folder / f"{name}.png") as picture:
            assert picture.format == "PNG" and picture.size[0] >= 400
    # the table: sorted by the objective, then the best trial's folder
    rows = [line.split() for line in out.splitlines() if re.match(r"^\d+\s+complete\s", line)]
    assert [float(r[2]) for r in rows] == sorted(float(r[2]) for r in rows) and len(rows) == 4
    assert f"best: trial {best['number']} (valid_loss " in out and str(folder / best["runs"][0]) in out
    # the sweep's report.html: the trials best first, each linking to its run's page, the pictures inline
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    ranked = sorted(trials, key=lambda t: t["value"])
    assert page.links == [f"{t['runs'][0]}/report.html" for t in ranked]
    assert all((folder / link).is_file() for link in page.links)
    assert len(page.pictures) == 3 and all(decoded(src).size[0] >= 400 for src in page.pictures)
    # a trial's folder is an ordinary run folder: zoo eval tests its best checkpoint again
    assert main(["eval", str(folder / "trials" / "0001"), "--json"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["accuracy"] <= 1


def test_sampled_sweep_draws_in_range_and_the_seeded_sampler_draws_the_same_values_again(recipe, tmp_path):
    args = (recipe, "optimizer.lr=loguniform(1e-4,1e-1)", "model.hidden=[16],[32]", "task.epochs=1", "--trials", "3")
    first = sweep(tmp_path / "a", *args)
    second = sweep(tmp_path / "b", *args)
    assert first["study"]["sampler"] == "tpe"
    assert first["space"]["optimizer.lr"] == {"kind": "loguniform", "low": 0.0001, "high": 0.1}
    params = [t["params"] for t in first["trials"]]
    assert len(params) == 3 and all(1e-4 <= p["optimizer.lr"] <= 0.1 for p in params)
    assert len({p["optimizer.lr"] for p in params}) == 3
    assert params == [t["params"] for t in second["trials"]]
    assert all(t["state"] == "complete" for t in first["trials"])


def test_random_sampler_and_int_ranges(recipe, tmp_path):
    document = sweep(tmp_path / "r", recipe, "task.batch_size=int(16,128)", "task.epochs=1", "--trials", "2",
                     "--sampler", "random")
    assert document["study"]["sampler"] == "random"
    sizes = [t["params"]["task.batch_size"] for t in document["trials"]]
    assert all(isinstance(s, int) and 16 <= s <= 128 for s in sizes)
    for t in document["trials"]:
        assert f"batch_size: {t['params']['task.batch_size']}" in (tmp_path / "r" / t["runs"][0] / "recipe.yaml").read_text()


def test_a_failing_trial_is_recorded_with_its_error_and_the_sweep_goes_on(recipe, tmp_path, capsys):
    document = sweep(tmp_path / "f", recipe, "optimizer.name=sgd", "optimizer.lr=1e12,0.01", "task.epochs=1")
    failed, done = document["trials"]
    assert failed["state"] == "failed" and failed["value"] is None
    assert re.match(r"the training loss is nan at epoch 1", failed["error"]) and "\n" not in failed["error"]
    assert done["state"] == "complete" and document["best"]["number"] == 1
    out = capsys.readouterr().out
    assert re.search(r"^1\s+complete.*\n0\s+failed\s.*the training loss is nan", out, re.M)


def test_seeds_repeat_each_setting_and_give_mean_and_spread(recipe, tmp_path, capsys):
    document = sweep(tmp_path / "k", recipe, "optimizer.lr=0.01,0.002", "task.epochs=1", "--seeds", "2")
    for t in document["trials"]:
        assert t["runs"] == [f"trials/{t['number']:04d}-seed0", f"trials/{t['number']:04d}-seed1"]
        reports = [json.loads((tmp_path / "k" / r / "report.json").read_text()) for r in t["runs"]]
        assert t["values"] == pytest.approx([r["best"]["valid_loss"] for r in reports])
        assert t["values"][0] != t["values"][1]  # two seeds, two different runs
        assert t["value"] == pytest.approx(sum(t["values"]) / 2)
        assert t["spread"] == pytest.approx(abs(t["values"][0] - t["values"][1]) / 2 ** 0.5)
        assert "seed: 1" in (tmp_path / "k" / t["runs"][1] / "recipe.yaml").read_text()
    assert " ± " in capsys.readouterr().out


def test_a_trial_pruned_on_its_validation_loss_stops_early_and_is_shown_pruned(recipe, tmp_path):
    document = sweep(tmp_path / "p", recipe, "optimizer.lr=0.01,0.005,1e-6", "task.epochs=4", "--prune", "median")
    states = [t["state"] for t in document["trials"]]
    assert states == ["complete", "complete", "pruned"] and document["study"]["pruner"] == "median"
    pruned = tmp_path / "p" / document["trials"][2]["runs"][0]
    epochs = [json.loads(line)["epoch"] for line in (pruned / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2] and not (pruned / "report.json").exists()
    assert (pruned / "checkpoints" / "last.pt").is_file()  # stopped between epochs: resumable as a run
    assert document["trials"][2]["error"].startswith("pruned after epoch 2")


def test_hyperband_prunes_a_trial_that_stalls_and_the_best_one_completes(recipe, tmp_path):
    """Hyperband's brackets depend on the study's name (a timestamp), so which trials it compares
    varies; with three trials that learn and three that stall (lr 1e-6), Optuna prunes a stalled
    one under every bracketing seen (2,000 study names tried with Optuna alone on curves of that shape)."""
    document = sweep(tmp_path / "h", recipe, "optimizer.lr=0.01,0.005,0.003,1e-6,2e-6,3e-6", "task.epochs=9",
                     "--prune", "hyperband")
    assert document["study"]["pruner"] == "hyperband"
    states = {t["number"]: t["state"] for t in document["trials"]}
    assert set(states.values()) <= {"complete", "pruned"} and "pruned" in states.values()
    assert document["best"]["number"] in (0, 1, 2) and states[document["best"]["number"]] == "complete"
    for t in document["trials"]:
        epochs = [json.loads(line)["epoch"] for line in (tmp_path / "h" / t["runs"][0] / "metrics.jsonl").read_text().splitlines()]
        if t["state"] == "pruned":  # at one of Hyperband's rungs, which can be the last epoch
            assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) <= 9
            assert t["error"].startswith(f"pruned after epoch {len(epochs)}")
        else:
            assert epochs == list(range(1, 10))


def test_objective_from_the_report_is_maximized_for_accuracy(recipe, tmp_path):
    document = sweep(tmp_path / "o", recipe, "optimizer.lr=0.01,0.0005", "task.epochs=1", "--objective", "test.accuracy")
    assert document["objective"] == "test.accuracy" and document["study"]["direction"] == "maximize"
    for t in document["trials"]:
        report = json.loads((tmp_path / "o" / t["runs"][0] / "report.json").read_text())
        assert t["value"] == pytest.approx(report["test"]["accuracy"])
    assert document["best"]["value"] == max(t["value"] for t in document["trials"])


def test_a_head_sweep_on_a_frozen_backbone_extracts_the_features_once(tmp_path, capsys):
    from tests.conftest import register_in_process
    from tests.test_feature_cache import random_convnet

    register_in_process("models", "acme/random_convnet", random_convnet)
    path = tmp_path / "frozen.yaml"
    path.write_text(RECIPE.replace("{name: mlp, hidden: [16]}", "{name: acme/random_convnet}"))
    capsys.readouterr()
    document = sweep(tmp_path / "h", path, "optimizer.lr=0.01,0.003,0.001", "task.epochs=1")
    log = capsys.readouterr().out
    extracted = re.findall(r"frozen backbone: features of (.*)", log)
    assert len(extracted) == 3 and all(t["state"] == "complete" for t in document["trials"])
    assert "computed" in extracted[0]
    assert all("read from the feature cache" in line and "computed" not in line for line in extracted[1:]), extracted


def test_a_sampler_over_lists_without_trials_runs_as_many_trials_as_the_grid_has_points(recipe, tmp_path):
    document = sweep(tmp_path / "r", recipe, "optimizer.lr=0.01,0.002,0.001", "task.epochs=1", "--sampler", "random")
    assert document["study"]["sampler"] == "random" and len(document["trials"]) == 3


def test_a_sweep_in_which_no_trial_completes_ends_with_exit_status_1(recipe, tmp_path, capsys):
    folder = tmp_path / "o"
    assert main(["sweep", str(recipe), "optimizer.name=sgd", "optimizer.lr=1e12,2e12", "task.epochs=1",
                 "--output", str(folder)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("zoo: error: no trial of the sweep completed: trial 0: the training loss is nan")
    assert len(err.splitlines()) == 1 and (folder / "report.html").is_file()


def test_an_objective_the_report_lacks_stops_the_sweep_after_its_first_trial_naming_what_the_report_has(
        recipe, tmp_path, capsys):
    folder = tmp_path / "o"
    assert main(["sweep", str(recipe), "optimizer.lr=0.01,0.002,0.001", "task.epochs=1", "--objective", "test.acc",
                 "--output", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert re.match(r"zoo: error: --objective test\.acc: trial 0's report\.json has no number at test\.acc .*"
                    r"\(it has: .*best\.valid_accuracy.*test\.accuracy.*\); no trial can have it", err), err
    assert len(err.splitlines()) == 1
    assert [p.name for p in (folder / "trials").iterdir()] == ["0000"]  # one trial's time lost, not the sweep's
    states = [t["state"] for t in json.loads((folder / "sweep.json").read_text())["trials"]]
    assert states == ["failed", "waiting", "waiting"]


def test_valid_accuracy_is_the_best_rounds_and_a_maximized_objective(recipe, tmp_path):
    document = sweep(tmp_path / "a", recipe, "optimizer.lr=0.01,0.0005", "task.epochs=2", "--objective", "valid_accuracy")
    assert document["study"]["direction"] == "maximize"
    for t in document["trials"]:
        report = json.loads((tmp_path / "a" / t["runs"][0] / "report.json").read_text())
        best = [json.loads(line) for line in (tmp_path / "a" / t["runs"][0] / "metrics.jsonl").read_text().splitlines()
                if json.loads(line)["epoch"] == report["best"]["epoch"]][0]
        assert t["value"] == report["best"]["valid_accuracy"] == best["valid_accuracy"]
    assert document["best"]["number"] == 0


def test_a_journal_file_named_relatively_is_found_again_from_any_folder(recipe, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(recipe), "optimizer.lr=0.01,0.005", "task.epochs=1", "--storage", "shared/s.journal",
                 "--output", "a"]) == 0
    name = json.loads((tmp_path / "a" / "sweep.json").read_text())["study"]["name"]
    assert main(["sweep", "--join", name, "--storage", "shared/s.journal", "--output", "b"]) == 0
    journal = str(tmp_path / "shared" / "s.journal")
    for folder in ("a", "b"):
        assert json.loads((tmp_path / folder / "sweep.json").read_text())["study"]["storage"] == journal
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["sweep", "--resume", str(tmp_path / "b")]) == 0
    assert "best: trial" in capsys.readouterr().out and not (elsewhere / "shared").exists()


def test_a_running_trial_writes_its_heartbeat_into_the_study():
    import threading
    import time

    import optuna

    from zoo.sweep_trial import heartbeat

    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    trial = study.ask()
    with heartbeat(trial, every=0.05):
        time.sleep(0.05)
        first = study.trials[0].user_attrs["seen"]
        time.sleep(0.3)
        later = study.trials[0].user_attrs["seen"]
    assert time.time() - 1 < first < later  # written at once, then again while the trial runs
    stopped = study.trials[0].user_attrs["seen"]
    time.sleep(0.2)
    assert study.trials[0].user_attrs["seen"] == stopped  # the block ended: no more beats
    assert not [t for t in threading.enumerate() if t.name.startswith("zoo-sweep-heartbeat")]


def test_a_trial_on_another_machine_without_a_heartbeat_yet_is_judged_by_its_start():
    import optuna

    from zoo.sweep_wait import STALE_SECONDS, running_trials

    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    trial = study.ask()
    trial.set_user_attr("host", "gpu-box-7")  # killed before its first beat
    started = study.trials[0].datetime_start.timestamp()
    (fresh,) = running_trials(study, now=started + 60)
    (late,) = running_trials(study, now=started + STALE_SECONDS + 60)
    assert fresh.alive and not late.alive and late.gone() == "on gpu-box-7 (pid None) has given no sign of life for 11 min"

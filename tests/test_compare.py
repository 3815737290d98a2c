"""``zoo compare``: two real runs' recipe differences (only the keys that differ), their results
side by side and their validation curves in one picture; a sweep folder standing for its trials;
the picture never replacing a user's file unasked; mistakes one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import REPO, run_zoo
from tests.test_runs import make_run, run_in_process


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple:
    """Two quickstart runs of 2 epochs differing in their learning rate and batch size."""
    root, cache = tmp_path_factory.mktemp("compare"), tmp_path_factory.mktemp("cache")
    folders = (root / "runs" / "quickstart" / "20261130-100000", root / "runs" / "quickstart" / "20261130-110000")
    for folder, overrides in zip(folders, (["optimizer.lr=0.003"], ["optimizer.lr=0.0005", "task.batch_size=64"])):
        run_in_process(cache, "run", REPO / "recipes" / "quickstart.yaml", "task.epochs=2", *overrides,
                       "--output", folder)
    return root, folders


def test_compare_two_runs_shows_only_what_differs_and_draws_their_curves(two_runs, tmp_path):
    root, (a, b) = two_runs
    result = run_zoo("compare", a, b, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    compared = json.loads(result.stdout)
    assert compared["differences"] == {"task.batch_size": [32, 64], "optimizer.lr": [0.003, 0.0005]}
    reports = [json.loads((f / "report.json").read_text()) for f in (a, b)]
    runs = compared["runs"]
    assert [r["label"] for r in runs] == ["20261130-100000", "20261130-110000"]
    assert [r["test_accuracy"] for r in runs] == [r["test"]["accuracy"] for r in reports]
    assert [r["valid_loss"] for r in runs] == [r["best"]["valid_loss"] for r in reports]
    assert [r["epochs"] for r in runs] == [2, 2] and all(r["seconds"] > 0 for r in runs)
    picture = tmp_path / compared["plot"]
    assert picture.parent == tmp_path / "comparisons" and Image.open(picture).format == "PNG"

    again = run_zoo("compare", a, b, cwd=tmp_path)  # a second picture, beside the first
    assert again.returncode == 0, again.stderr
    assert len(list((tmp_path / "comparisons").glob("*.png"))) == 2
    lines = again.stdout.splitlines()
    assert "recipe differences (2 keys):" in lines
    header = next(i for i, line in enumerate(lines) if line.split() == ["RUN", "task.batch_size", "optimizer.lr"])
    assert lines[header + 1].split() == ["20261130-100000", "32", "0.003"]
    assert lines[header + 2].split() == ["20261130-110000", "64", "0.0005"]
    assert any(line.startswith("validation curves: comparisons/") for line in lines)


def test_the_picture_replaces_a_users_file_only_with_force(two_runs, tmp_path):
    _, (a, b) = two_runs
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"my picture")
    refused = run_zoo("compare", a, b, "--plot", mine, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.startswith(f"zoo: error: --plot {mine}: the file exists")
    assert mine.read_bytes() == b"my picture"
    assert run_zoo("compare", a, b, "--plot", mine, "--force", cwd=tmp_path).returncode == 0
    assert Image.open(mine).format == "PNG"
    assert run_zoo("compare", a, b, "--no-plot", cwd=tmp_path).returncode == 0
    assert not (tmp_path / "comparisons").exists()
    (tmp_path / "comparisons").write_text("a file where the pictures' folder would go")
    blocked = run_zoo("compare", a, b, cwd=tmp_path)
    assert blocked.returncode == 2 and blocked.stderr.startswith("zoo: error: cannot write the picture comparisons/")
    assert len(blocked.stderr.strip().splitlines()) == 1


def test_a_sweep_folder_stands_for_its_trials(tmp_path):
    sweep = tmp_path / "sweep"
    make_run(sweep / "trials" / "0000", losses=(0.9, 0.4), overrides=["optimizer.lr=0.1"])
    make_run(sweep / "trials" / "0001", losses=(0.8, 0.3, 0.2))
    (sweep / "sweep.json").write_text(json.dumps({"name": "quickstart", "trials": [
        {"number": 0, "runs": ["trials/0000"]}, {"number": 1, "runs": ["trials/0001"]}]}))
    other = make_run(tmp_path / "runs" / "other", losses=(0.7,))
    result = run_zoo("compare", sweep, other, "--json", "--plot", "c.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    compared = json.loads(result.stdout)
    assert [r["label"] for r in compared["runs"]] == ["0000", "0001", "other"]
    assert compared["differences"] == {"task.epochs": [2, 3, 1]}
    assert compared["plot"] == "c.png" and Image.open(tmp_path / "c.png").format == "PNG"


@pytest.mark.parametrize("make, message", [
    (lambda t: [t / "nowhere", t / "a"], "nowhere: no such folder"),
    (lambda t: [t, t / "a"], "not a run folder"),
    (lambda t: [t / "a"], "zoo compare needs at least two runs; got 1"),
    (lambda t: [t / "a", t / "a"], "zoo compare needs at least two runs; got 1"),
    (lambda t: [t / "a", t / "b", "--plot", "c.jpg"], "--plot c.jpg: the picture is a PNG file"),
])
def test_compare_mistakes_are_one_line(tmp_path, make, message):
    make_run(tmp_path / "a")
    make_run(tmp_path / "b")
    result = run_zoo("compare", *make(tmp_path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("zoo: error: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_up_to_forty_overlaid_curves_each_get_their_own_colour_and_dash():
    from zoo.curve_plots import line_style

    styles = [tuple(sorted(line_style(i).items())) for i in range(40)]
    assert len(set(styles)) == 40
    assert line_style(0) == {"color": "tab:blue", "linestyle": "-"} and line_style(10)["linestyle"] == "--"

"""The run folder is named after the recipe, whatever the command line changed: the run's first
line says what it changed, in a form that can be typed again."""

from __future__ import annotations

import textwrap

from zoo.cli import main

DIGITS = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 1, batch_size: 64, plots: false}
    data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}
    model: {name: mlp, hidden: [16]}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.003}
""")


def test_overrides_are_printed_first_and_the_folder_keeps_the_recipes_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quick.yaml").write_text(DIGITS)
    status = main(["run", "quick.yaml", "task.valid_fraction=0.3", "optimizer={name: sgd, lr: 0.1}"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0] == "recipe quick.yaml with overrides: task.valid_fraction=0.3 'optimizer={name: sgd, lr: 0.1}'"
    (folder,) = (tmp_path / "runs" / "quick").iterdir()
    assert out[-2] == f"run folder: {folder.relative_to(tmp_path)}"


def test_a_run_without_overrides_has_no_such_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quick.yaml").write_text(DIGITS)
    assert main(["run", "quick.yaml"]) == 0
    assert "with overrides" not in capsys.readouterr().out

"""A recipe's mistakes are reported all at once, each with its file and line (like ``tune validate``)."""

from __future__ import annotations

import re

from zoo.cli import main

RECIPE = """\
seed: 0
task: {name: classification, epochs: ten, batch_size: 32}
data: {name: digits}
model: {name: cnnn}
loss: {name: cross_entropy}
optimizer:
  name: adam
  lrr: 0.01
"""


def zoo_errors(capsys, *argv) -> tuple:
    """``(exit status, stderr lines)`` of ``zoo ARGV`` run in this process."""
    status = main(list(argv))
    return status, capsys.readouterr().err.splitlines()


def test_three_mistakes_in_three_sections_are_reported_together(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    status, lines = zoo_errors(capsys, "run", str(recipe), "--dry-run")
    assert status == 2
    assert lines[0] == f"zoo: error: {recipe}: 3 problems:"
    assert len(lines) == 4, lines
    assert re.fullmatch(rf"  {re.escape(str(recipe))}:2: task\.epochs: expected int .*got 'ten' \(str\)", lines[1])
    assert re.fullmatch(rf"  {re.escape(str(recipe))}:4: model\.name: unknown model 'cnnn'.*", lines[2])
    assert re.fullmatch(rf"  {re.escape(str(recipe))}:8: optimizer\.lrr: unknown key for optimizer 'adam' "
                        r"\(did you mean 'lr'\?\).*", lines[3])
    assert not any("Traceback" in line for line in lines)


def test_every_mistake_of_one_section_and_of_the_top_level(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.replace("seed: 0", "seed: -1").replace("model: {name: cnnn}", "modle: {name: cnn}")
                      .replace("epochs: ten", "epochs: 2").replace("  lrr: 0.01", "  lrr: 0.01\n  eps: -1"))
    status, lines = zoo_errors(capsys, "run", str(recipe), "--dry-run")
    assert status == 2
    assert lines[0] == f"zoo: error: {recipe}: 4 problems:", lines
    assert [re.match(r"  \S+:(\d+): (\S+)", line).groups() for line in lines[1:]] == [
        ("4", "unknown"), ("1", "seed:"), ("8", "optimizer.lrr:"), ("9", "optimizer.eps:")]
    # the misspelled modle: is one mistake: "needs a model: section" is not said as well


def test_the_sections_are_checked_even_when_the_task_is_wrong(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.replace("name: classification", "name: clasification").replace("cnnn", "cnn"))
    status, lines = zoo_errors(capsys, "run", str(recipe), "--dry-run")
    assert status == 2
    assert lines[0] == f"zoo: error: {recipe}: 2 problems:", lines
    assert "task.name: unknown task 'clasification'" in lines[1]
    assert "optimizer.lrr: unknown key" in lines[2]


def test_one_mistake_is_still_one_line(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.replace("epochs: ten", "epochs: 2").replace("cnnn", "cnn"))
    status, lines = zoo_errors(capsys, "run", str(recipe), "--dry-run")
    assert status == 2
    assert len(lines) == 1 and lines[0].startswith(f"zoo: error: {recipe}:8: optimizer.lrr: unknown key"), lines

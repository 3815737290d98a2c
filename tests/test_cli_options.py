"""The command line itself: --debug anywhere on the line, --help with examples that are true."""

from __future__ import annotations

import shlex

import pytest

from zoo.cli import EXAMPLES, build_parser, main

RECIPE = """\
task: {name: classification, epochs: 1, batch_size: 64, plots: false}
data: {name: digits}
model: {name: mpl}
loss: {name: cross_entropy}
optimizer: {name: adam}
"""


@pytest.mark.parametrize("where", ["before", "after the command", "after the overrides", "between the options"])
def test_debug_is_accepted_anywhere_and_shows_the_traceback(tmp_path, capsys, where):
    """``zoo run r.yaml --debug`` was an argparse error (with argparse's traceback); the messages
    that say "run with --debug" are true wherever it goes."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    argv = {"before": ["--debug", "run", str(recipe), "--dry-run"],
            "after the command": ["run", "--debug", str(recipe), "--dry-run"],
            "after the overrides": ["run", str(recipe), "task.epochs=2", "--debug"],
            "between the options": ["run", str(recipe), "--dry-run", "--debug", "task.epochs=2"]}[where]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "unrecognized arguments" not in err
    assert err.strip().splitlines()[-1].startswith(f"zoo: error: {recipe}:3: model.name: unknown model 'mpl'")


@pytest.mark.parametrize("argv", [["list", "models", "--debug", "--json"], ["plugins", "--debug"],
                                  ["info", "model", "mlp", "--debug"]])
def test_debug_after_other_commands_is_no_error(capsys, argv):
    assert main(argv) == 0
    assert "error" not in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_help_shows_examples(capsys, command):
    argv = ["--help"] if command == "zoo" else [command, "--help"]
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "\nexamples:\n" in out
    for line, what in EXAMPLES[command]:
        assert f"  {line}" in out and f"# {what}" in out
    assert "Add --debug anywhere on the line" in out


@pytest.mark.parametrize("line", [line for rows in EXAMPLES.values() for line, _ in rows])
def test_every_example_is_a_valid_command_line(line):
    words = shlex.split(line)
    assert words[0] == "zoo"
    args, extra = build_parser().parse_known_args(words[1:])
    assert args.command in EXAMPLES
    assert all("=" in word for word in extra)  # overrides after the options, which main() accepts

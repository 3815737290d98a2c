"""What a recipe file may be (a regular file of bounded size), what its name may be (a folder
name under runs/, never a path), and where a message says a section was set when an override
changed it (zoo eval / --resume)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from zoo import UserError
from zoo.recipe import load_recipe
from zoo.recipe_bases import MAX_RECIPE_BYTES
from zoo.run_folder import new_run_directory

RECIPE = "task: {name: classification, epochs: 1}\nmodel:\n  name: mlp\n  hidden: [32]\n"


def failure(call) -> str:
    with pytest.raises(UserError) as info:
        call()
    return str(info.value)


def within_seconds(seconds: float, call):
    """``call()`` run in a thread that must finish within ``seconds`` (a hang fails the test, never the suite)."""
    result: dict = {}

    def target():
        try:
            result["value"] = call()
        except BaseException as exc:  # noqa: BLE001 (handed back to the test)
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s"
    if "error" in result:
        raise result["error"]
    return result.get("value")


@pytest.mark.parametrize("device, what", [("/dev/zero", "a character device"), ("/dev/urandom", "a character device")])
def test_a_device_as_base_is_refused_at_once(tmp_path, device, what):
    """``base: /dev/zero`` grew to 9 GB in 10 s: now one line naming the base and the line that named it."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"base: {device}\n" + RECIPE)
    message = within_seconds(5, lambda: failure(lambda: load_recipe(recipe)))
    assert message == f"{recipe}:1: {device}: is {what}, not a recipe file (a recipe is a regular file)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    message = within_seconds(5, lambda: failure(lambda: load_recipe(fifo)))
    assert message == f"{fifo}: is a FIFO (named pipe), not a recipe file (a recipe is a regular file)"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("base: pipe.yaml\n" + RECIPE)
    message = within_seconds(5, lambda: failure(lambda: load_recipe(recipe)))
    assert message.startswith(f"{recipe}:1: {fifo}: is a FIFO")


def test_a_recipe_larger_than_the_bound_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(RECIPE + "# " + "x" * MAX_RECIPE_BYTES + "\n")
    assert failure(lambda: load_recipe(big)) == f"{big}: larger than 1 MiB, the most a recipe file may hold"
    small = tmp_path / "small.yaml"
    small.write_text(RECIPE + "# " + "x" * (MAX_RECIPE_BYTES - len(RECIPE) - 3) + "\n")
    assert small.stat().st_size == MAX_RECIPE_BYTES
    assert load_recipe(small).data["model"]["hidden"] == [32]


def test_a_folder_is_not_a_recipe(tmp_path):
    (tmp_path / "folder.yaml").mkdir()
    assert failure(lambda: load_recipe(tmp_path / "folder.yaml")).endswith("folder.yaml: is a folder, not a recipe "
                                                                           "file (a recipe is a regular file)")


@pytest.mark.parametrize("name", ["..", ".", "a/../../b", "/etc", "a\\b", ""])
def test_a_run_name_never_leads_out_of_runs(tmp_path, name):
    """A recipe named after its file ``...yaml`` has the stem ``..``: it can't name a run folder."""
    message = failure(lambda: new_run_directory(tmp_path / "runs", name))
    assert message.startswith(f"the run name {name!r} can't name a folder under {tmp_path / 'runs'}/: ")
    assert not any(tmp_path.iterdir())


def test_namespaced_and_plain_run_names_make_folders_under_runs(tmp_path):
    runs = tmp_path / "runs"
    assert new_run_directory(runs, "acme/quick").parent == runs / "acme" / "quick"
    assert new_run_directory(runs, "MyRecipe").parent == runs / "MyRecipe"  # a file's stem, as before


def test_where_names_the_overrides_inside_a_section(tmp_path):
    """``zoo eval RUN model.hidden=[16]``: a message about the model as built now names the override too."""
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE)
    recipe = load_recipe(path, ["model.hidden=[16, 16]", "task.epochs=3"])
    assert recipe.where(("model",)) == f"{path}:2 (with model.hidden=[16, 16] from the command line)"
    assert recipe.where(("model", "hidden")) == "command line (model.hidden=[16, 16])"
    assert recipe.where(("model", "name")) == f"{path}:3"
    assert recipe.where(()) == f"{path}:1"  # the recipe as a whole: the file alone
    assert load_recipe(path).where(("model",)) == f"{path}:2"


def test_read_bounded_reads_exactly_a_small_file(tmp_path):
    from zoo.bounded_read import TooLarge, read_bounded

    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert read_bounded(path, 3) == b"abc"
    with pytest.raises(TooLarge):
        read_bounded(path, 2)
    with pytest.raises(FileNotFoundError):
        read_bounded(Path(tmp_path / "missing"), 10)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_listing_recipes_skips_what_is_not_a_regular_file(tmp_path):
    from zoo.recipe_index import find_recipes

    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "good.yaml").write_text("# a good recipe\n" + RECIPE)
    os.mkfifo(tmp_path / "recipes" / "pipe.yaml")
    found = within_seconds(5, lambda: find_recipes(cwd=tmp_path))
    assert [(r["name"], r["summary"]) for r in found] == [("good", "a good recipe")]

"""`zoo list` / `zoo info` / `zoo plugins` from a user's side, and the catalog cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fake_dists import write_plugin_dist
from tests.test_plugins import GOOD_MODELS, GOOD_PLUGIN

pytestmark = pytest.mark.filterwarnings("ignore")


def plugin_site(folder, name: str, version: str, plugin: str, models: str):
    """``folder``, to put on PYTHONPATH, holding the installed distribution ``name`` whose plugin
    module is ``plugin`` and whose ``models`` module is ``models`` (sources)."""
    write_plugin_dist(folder, name, version, {name: f"{name}.plugin"},
                      {f"{name}/__init__.py": "", f"{name}/plugin.py": plugin, f"{name}/models.py": models})
    return folder


@pytest.fixture
def site(tmp_path):
    """A folder on PYTHONPATH holding one installed third-party plugin, 'goodpkg'."""
    return plugin_site(tmp_path / "site", "goodpkg", "1.0", GOOD_PLUGIN, GOOD_MODELS)


def cache_files(cache_dir):
    return sorted(p.name for p in cache_dir.iterdir())


def test_list_shows_a_table_and_filters_with_a_glob(site, zoo_cli):
    result = zoo_cli("list", "models", "goodpkg/*", extra_path=[site])
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "SUMMARY", "PLUGIN"]
    assert row.split()[0] == "goodpkg/net" and row.split()[-1] == "goodpkg"
    none = zoo_cli("list", "models", "nothing-like-this*", extra_path=[site])
    assert none.returncode == 0 and none.stdout == ""


def test_list_json_fields(site, zoo_cli):
    result = zoo_cli("list", "model", "goodpkg/*", "--json", extra_path=[site])
    rows = json.loads(result.stdout)
    assert rows == [{
        "name": "goodpkg/net", "kind": "model", "summary": "A net from goodpkg", "plugin": "goodpkg",
        "distribution": "goodpkg", "version": "1.0", "tags": [], "metadata": {},
    }]


def heavy_imports_of_a_listing(env: dict, args: list, expected: str) -> str:
    """Build the catalog cache in ``env``, then run ``zoo ARGS`` in a fresh interpreter: ``"STATUS
    FOUND [heavy modules imported]"``, FOUND saying whether ``expected`` was listed."""
    subprocess.run([sys.executable, "-m", "zoo", "list", "models"], env=env, check=True, capture_output=True)
    probe = (
        "import sys, contextlib, io\n"
        "from zoo.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()): "
        f"status = main({args!r})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'timm', 'goodpkg', 'numpy', 'yaml', 'sklearn', 'PIL', 'tqdm') or m.startswith('zoo_'))\n"
        f"print(status, {expected!r} in out.getvalue(), heavy)\n"
    )
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_valid_cache_imports_no_plugin_and_no_torch(site, isolated_cache):
    env = dict(os.environ, PYTHONPATH=str(site), ZOO_CACHE_DIR=str(isolated_cache))
    assert heavy_imports_of_a_listing(env, ["list", "models"], "goodpkg/net") == "0 True []"


def test_cache_is_rebuilt_when_a_plugin_distribution_changes(site, tmp_path, zoo_cli, isolated_cache):
    first = zoo_cli("list", "models", "--json", extra_path=[site])
    assert [r["name"] for r in json.loads(first.stdout) if r["plugin"] == "goodpkg"] == ["goodpkg/net"]
    # a new plugin distribution appears
    write_plugin_dist(site, "newpkg", "0.1", {"newpkg": "newpkg.plugin"}, {
        "newpkg/__init__.py": "",
        "newpkg/plugin.py": "from zoo import hookimpl\n@hookimpl\ndef zoo_register_losses(registry):\n"
                            "    registry.register('newpkg/loss', lambda: None, summary='new loss')\n",
    })
    added = zoo_cli("list", "losses", "--json", extra_path=[site])
    assert "newpkg/loss" in [r["name"] for r in json.loads(added.stdout)]
    # it is upgraded: new version, new name
    import shutil

    shutil.rmtree(site / "newpkg-0.1.dist-info")
    write_plugin_dist(site, "newpkg", "0.2", {"newpkg": "newpkg.plugin"}, {
        "newpkg/plugin.py": "from zoo import hookimpl\n@hookimpl\ndef zoo_register_losses(registry):\n"
                            "    registry.register('newpkg/loss2', lambda: None)\n",
    })
    upgraded = json.loads(zoo_cli("list", "losses", "--json", extra_path=[site]).stdout)
    assert [(r["name"], r["version"]) for r in upgraded if r["plugin"] == "newpkg"] == [("newpkg/loss2", "0.2")]
    # it is removed
    shutil.rmtree(site / "newpkg-0.2.dist-info")
    removed = json.loads(zoo_cli("list", "losses", "--json", extra_path=[site]).stdout)
    assert not [r for r in removed if r["plugin"] == "newpkg"]


def test_editing_a_plugin_source_invalidates_the_cache(site, zoo_cli):
    zoo_cli("list", "models", extra_path=[site])
    plugin = site / "goodpkg" / "plugin.py"
    plugin.write_text(GOOD_PLUGIN.replace("A net from goodpkg", "An edited net"))
    os.utime(plugin, ns=(plugin.stat().st_atime_ns, plugin.stat().st_mtime_ns + 10_000_000))
    result = zoo_cli("list", "models", "goodpkg/*", extra_path=[site])
    assert "An edited net" in result.stdout


def test_corrupt_cache_is_rebuilt_not_fatal(site, zoo_cli, isolated_cache):
    from zoo.catalog import read

    zoo_cli("list", "models", extra_path=[site])
    (cache,) = [p for p in isolated_cache.iterdir() if p.suffix == ".json"]
    for garbage in ["{not json", "[]", json.dumps({"format": 1, "fingerprint": "x"})]:
        cache.write_text(garbage)
        assert read(cache) is None, garbage  # refused, so the next listing builds it again (as below)
    cache.write_text("")
    result = zoo_cli("list", "models", extra_path=[site])
    assert result.returncode == 0 and "goodpkg/net" in result.stdout, result.stderr
    assert json.loads(cache.read_text())["entries"]["models"]
    assert [p.name for p in isolated_cache.iterdir()] == [cache.name]  # no temporary files left behind


def test_unwritable_cache_folder_still_lists(site, tmp_path, zoo_cli):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    result = zoo_cli("list", "models", extra_path=[site], env={"ZOO_CACHE_DIR": str(blocker / "cache")})
    assert result.returncode == 0 and "goodpkg/net" in result.stdout


def test_info_shows_plugin_distribution_parameters_and_doc(site, zoo_cli):
    result = zoo_cli("info", "model", "goodpkg/net", extra_path=[site])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "goodpkg/net (model)" in out
    assert "plugin: goodpkg (distribution: goodpkg 1.0)" in out
    assert "num_classes: int = 10" in out and "width: int = 4" in out
    assert "Build the goodpkg net." in out
    data = json.loads(zoo_cli("info", "models", "goodpkg/net", "--json", extra_path=[site]).stdout)
    assert [p["name"] for p in data["parameters"]] == ["num_classes", "width"]
    assert data["parameters"][1]["default"] == 4


def test_info_writes_types_with_their_bounds_and_defaults_as_a_recipe_would(zoo_cli):
    out = zoo_cli("info", "optimizer", "adam").stdout
    assert "  lr: float > 0 = 0.001\n" in out
    assert "  betas: tuple[float in [0, 1), float in [0, 1)] = [0.9, 0.999]\n" in out
    assert "  amsgrad: bool = false\n" in out
    out = zoo_cli("info", "task", "classification").stdout
    assert "  eval_batch_size: int in (0, 10000000] or null = null\n" in out
    assert "  amp: one of 'off', 'bf16', 'fp16' = 'off'\n" in out
    assert "sections: data, model, loss, optimizer\noptional sections: scheduler\n" in out
    assert "checkpoints: resume checkpoints/last.pt, best checkpoints/best.pt\n" in out
    assert "sections: data, model\n" in zoo_cli("info", "task", "style_transfer").stdout


def test_info_of_a_model_shows_no_training_warning_which_a_real_build_still_gives(zoo_cli, caplog):
    """densenet121 without pretrained weights freezes random features: worth a warning when training
    with it, noise when a user only asks what the model is."""
    result = zoo_cli("info", "model", "densenet121")
    assert result.returncode == 0, result.stderr
    assert "parameters: 7,216,770 total, 262,914 trainable" in result.stdout
    assert result.stderr == ""
    from zoo.plugins import get_manager

    with caplog.at_level("WARNING"):
        get_manager(quiet=True).registries.models.create("densenet121", pretrained=False)
    assert "freezing 362 randomly initialised parameter tensors" in caplog.text


@pytest.mark.parametrize("args, expected", [
    (["list", "gadgets"], "unknown kind 'gadgets'"),
    (["info", "model", "goodpkg/nett"], "did you mean 'goodpkg/net'"),
    (["info", "recipe", "no-such-recipe"], "unknown recipe 'no-such-recipe'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["list"], "the following arguments are required: KIND"),
    (["info", "model", "goodpkg/net", "novalue"], "expected KEY=VALUE, got 'novalue'"),
])
def test_user_mistakes_are_one_line_exit_2(site, zoo_cli, args, expected):
    result = zoo_cli(*args, extra_path=[site])
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zoo: error: ") and expected in lines[0]


def test_debug_shows_the_traceback(site, zoo_cli):
    result = zoo_cli("--debug", "info", "model", "goodpkg/nett", extra_path=[site])
    assert result.returncode == 2
    assert "Traceback" in result.stderr and result.stderr.strip().endswith("'zoo list models' shows them all")


def test_console_script_and_module_agree(site, zoo_cli):
    import sysconfig

    script = os.path.join(sysconfig.get_path("scripts"), "zoo")
    env = dict(os.environ, PYTHONPATH=str(site))
    via_script = subprocess.run([script, "--version"], capture_output=True, text=True, env=env)
    via_module = zoo_cli("--version")
    assert via_script.returncode == 0 and via_script.stdout == via_module.stdout
    assert via_module.stdout.startswith("zoo ")


def test_recipes_are_listed_from_the_working_folder(tmp_path, zoo_cli):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "mine.yaml").write_text("# My own recipe\ntask: {name: classification}\n")
    (recipes / "_partial.yaml").write_text("# a partial, not listed\n")
    result = zoo_cli("list", "recipes", "--json", cwd=tmp_path)
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["mine"]["summary"] == "My own recipe" and rows["mine"]["plugin"] == "(local)"
    assert "_partial" not in rows
    shown = zoo_cli("info", "recipe", "mine", cwd=tmp_path)
    assert "task: {name: classification}" in shown.stdout


WRONG_SHAPES = {
    "a string where the entries list belongs": lambda c: c["entries"].update(models="mlp"),
    "an entry with no name": lambda c: c["entries"]["models"][0].pop("name"),
    "plugins: [5, null]": lambda c: c.update(plugins=[5, None]),
    "a number as a summary": lambda c: c["entries"]["models"][0].update(summary=5),
    "a plugin of an unknown status": lambda c: c["plugins"][0].update(status="maybe"),
    "recipe_dirs as a string": lambda c: c.update(recipe_dirs="recipes"),
    "entries missing": lambda c: c.pop("entries"),
    "no checksum": lambda c: c.pop("checksum"),
}


@pytest.mark.parametrize("spoil", WRONG_SHAPES.values(), ids=WRONG_SHAPES.keys())
def test_a_cache_of_valid_json_with_wrong_types_is_rebuilt(isolated_cache, capsys, spoil):
    """The README promises a corrupt cache is never fatal: valid JSON of the wrong shape is corrupt too
    (it used to crash every later call, or list nothing)."""
    from zoo import catalog
    from zoo.cli import main

    assert main(["list", "models", "--json"]) == 0
    good = json.loads(capsys.readouterr().out)
    path = catalog.cache_path()
    spoilt = json.loads(path.read_text())
    spoil(spoilt)  # the fingerprint still matches this environment
    path.write_text(json.dumps(spoilt, separators=(",", ":")))  # as zoo writes it, its checksum kept first
    assert catalog.read(path) is None
    assert main(["list", "models", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == good and err == ""
    assert catalog.read(path) is not None  # rebuilt and written again


def test_summaries_and_errors_from_plugins_reach_the_terminal_without_escape_sequences(isolated_cache, capsys):
    from tests.conftest import register_in_process
    from zoo.cli import main

    register_in_process("models", "acme/sneaky", lambda num_classes=10: None, plugin="acme\x1b]0;owned\x07")
    from zoo.plugins import get_manager

    get_manager().registries.models.get("acme/sneaky").summary = "Clears your screen\x1b[2J\x1b[31m red"
    assert main(["list", "models", "acme/*", "--refresh"]) == 0
    out, _ = capsys.readouterr()
    assert "\x1b" not in out and "\x07" not in out
    assert "Clears your screen\\x1b[2J\\x1b[31m red" in out
    assert main(["list", "models", "acme/*", "--json"]) == 0  # JSON escapes them its own way
    (row,) = json.loads(capsys.readouterr().out)
    assert row["summary"] == "Clears your screen\x1b[2J\x1b[31m red"
    assert main(["plugins"]) == 0
    assert "\x1b" not in capsys.readouterr().out


CARD_PLUGIN = '''
from zoo import hookimpl

@hookimpl
def zoo_register_models(registry):
    registry.register("cardpkg/tiny", "cardpkg.models:build", summary="A tiny CNN that publishes its top-1",
                      card={"top1": 55.5, "input_size": [3, 32, 32], "pretrained": False})
'''
CARD_MODELS = '''
import torch

def build(num_classes: int = 10, width: int = 8):
    """Build the cardpkg net: conv 3->width, pool, linear width->num_classes."""
    return torch.nn.Sequential(torch.nn.Conv2d(3, width, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(width, num_classes))
'''


@pytest.fixture
def card_site(tmp_path):
    """A folder on PYTHONPATH holding a third-party plugin whose model declares some card figures."""
    return plugin_site(tmp_path / "cardsite", "cardpkg", "2.0", CARD_PLUGIN, CARD_MODELS)


def test_where_sort_and_columns_choose_rows_and_figures(zoo_cli):
    args = ["list", "models", "torchvision/*", "--where", "params < 10M and pretrained", "--sort=-top1",
            "--columns", "name,params,gmacs,top1"]
    rows = json.loads(zoo_cli(*args, "--json").stdout)
    assert len(rows) >= 10 and all(set(r) == {"name", "params", "gmacs", "top1"} for r in rows)
    assert all(r["params"] < 10_000_000 for r in rows)
    assert [r["top1"] for r in rows] == sorted((r["top1"] for r in rows), reverse=True)
    assert "torchvision/mobilenet_v3_small" in {r["name"] for r in rows}
    table = zoo_cli(*args)
    assert table.returncode == 0, table.stderr
    header, first = table.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "PARAMS", "GMACS", "TOP1"]
    assert first.split()[0] == rows[0]["name"] and first.split()[1].endswith("M")
    ascending = json.loads(zoo_cli(*args[:-3], "--sort", "top1", "--json").stdout)
    assert [r["name"] for r in ascending] == [r["name"] for r in reversed(rows)]


def test_third_party_entries_get_the_same_columns_and_zoo_computes_what_they_do_not_publish(card_site, zoo_cli):
    from zoo.catalog_columns import COLUMNS

    listed = zoo_cli("list", "models", "cardpkg/*", "--where", "top1 > 50", "--json", extra_path=[card_site])
    (row,) = json.loads(listed.stdout)
    assert set(row) == set(COLUMNS)
    assert row["top1"] == 55.5 and row["res"] == 32 and row["params"] is None  # not computed yet: unknown
    assert "--compute-cards" in listed.stderr and "cardpkg-2.0: 1" in listed.stderr
    computed = zoo_cli("list", "models", "cardpkg/*", "--compute-cards", "--json", extra_path=[card_site])
    (row,) = json.loads(computed.stdout)
    assert row["params"] == 3 * 8 * 9 + 8 + 8 * 10 + 10 and row["features"] == 8
    assert row["gmacs"] == pytest.approx(30 * 30 * 8 * 27 / 1e9 + 80 / 1e9, rel=1e-3) and row["top1"] == 55.5
    again = zoo_cli("list", "models", "cardpkg/*", "--where", "params < 1K", "--json", extra_path=[card_site])
    assert [r["name"] for r in json.loads(again.stdout)] == ["cardpkg/tiny"] and again.stderr == ""


def test_listing_with_card_options_imports_no_plugin_and_no_torch(site, isolated_cache):
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))  # this checkout's plugins too
    env = dict(os.environ, PYTHONPATH=path, ZOO_CACHE_DIR=str(isolated_cache))
    args = ["list", "models", "--pretrained", "--where", "params < 10M and pretrained", "--sort=-top1"]
    assert heavy_imports_of_a_listing(env, args, "torchvision/mobilenet_v3_small.imagenet1k_v1") == "0 True []"


def test_the_listing_says_when_the_cards_are_being_computed(zoo_cli, isolated_cache):
    from zoo._version import __version__
    from zoo.catalog_cards import lock_path

    missing = zoo_cli("list", "models", "mlp", "--where", "params > 0 or not params")
    assert "1 models have no computed card yet (models-" in missing.stderr
    assert "run zoo list models mlp --compute-cards" in missing.stderr
    lock_path(f"models-{__version__}").write_text(str(os.getpid()))  # a live process computing them
    busy = zoo_cli("list", "models", "mlp", "--where", "params > 0 or not params")
    assert f"the cards of models-{__version__} (process {os.getpid()}) are being computed" in busy.stderr
    assert busy.stdout.split()[:2] == ["NAME", "PARAMS"] and "?" in busy.stdout.splitlines()[1]


def test_cards_are_computed_again_when_the_plugins_code_changes_but_not_its_version(card_site, zoo_cli,
                                                                                     isolated_cache):
    computed = zoo_cli("list", "models", "cardpkg/*", "--compute-cards", "--json", extra_path=[card_site])
    assert json.loads(computed.stdout)[0]["params"] == 3 * 8 * 9 + 8 + 8 * 10 + 10
    models = card_site / "cardpkg" / "models.py"
    models.write_text(models.read_text().replace("width: int = 8", "width: int = 16"))  # an editable install
    (cards_file,) = isolated_cache.glob("cards-cardpkg-*.json")
    listed = zoo_cli("list", "models", "cardpkg/*", "--refresh", "--columns", "name,params", "--json",
                     extra_path=[card_site])
    assert json.loads(listed.stdout)[0]["params"] is None and "cardpkg-2.0: 1" in listed.stderr
    assert not cards_file.exists()  # --refresh dropped the cards of the old code
    again = zoo_cli("list", "models", "cardpkg/*", "--compute-cards", "--json", extra_path=[card_site])
    assert json.loads(again.stdout)[0]["params"] == 3 * 16 * 9 + 16 + 16 * 10 + 10


def test_list_takes_its_options_and_pattern_in_any_order(isolated_cache, capsys):
    from zoo.cli import main

    orders = [["list", "models", "resnet50*", "--pretrained", "--json"],
              ["list", "models", "--pretrained", "resnet50*", "--json"],
              ["list", "--json", "models", "--pretrained", "resnet50*"]]
    found = []
    for args in orders:
        assert main(args) == 0, args
        found.append(sorted(r["name"] for r in json.loads(capsys.readouterr().out)))
    assert found[0] == found[1] == found[2] and "timm/resnet50.a1_in1k" in found[0]


def test_the_missing_cards_note_names_a_command_that_computes_them(isolated_cache, capsys):
    from zoo.cli import main

    assert main(["list", "models", "resnet18.a1*", "--pretrained", "--columns", "name,params"]) == 0
    note = capsys.readouterr().err
    assert "run zoo list models 'resnet18.a1*' --pretrained --compute-cards to compute them" in note


def test_patterns_ignore_case_and_an_architectures_name_lists_its_tags(isolated_cache, capsys):
    from zoo.cli import main

    def names(*args) -> list:
        assert main(["list", "models", *args, "--json"]) == 0
        return sorted(r["name"] for r in json.loads(capsys.readouterr().out))

    assert "timm/resnet50" in names("ResNet5*")
    assert names("--pretrained", "torchvision/resnet50.IMAGENET1K*") == ["torchvision/resnet50.imagenet1k_v1",
                                                                          "torchvision/resnet50.imagenet1k_v2"]
    tags = names("timm/resnet50", "--pretrained")
    assert "timm/resnet50.a1_in1k" in tags and all(n.startswith("timm/resnet50.") for n in tags)

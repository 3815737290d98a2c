"""The plugin manager: validation of hooks, isolation of failures, provenance, entry points."""

from __future__ import annotations

import json
import types

import pytest

from zoo import hookimpl
from zoo.plugins import PluginManager
from tests.fake_dists import write_plugin_dist


def plugin(**hooks):
    """A plugin object whose attributes are the given (already marked) hook functions."""
    return types.SimpleNamespace(**hooks)


@hookimpl
def register_good_models(registry):
    registry.register("good/net", lambda num_classes=10: ("net", num_classes), summary="A good net")


def test_registration_records_the_plugin(capsys):
    pm = PluginManager()
    pm.register(plugin(zoo_register_models=register_good_models), "good", distribution="good-zoo", version="1.0")
    entry = pm.registries.models.get("good/net")
    assert (entry.plugin, entry.distribution, entry.version) == ("good", "good-zoo", "1.0")
    assert pm.plugins["good"].counts == {"models": 1}
    assert pm.plugins["good"].hooks == ["zoo_register_models"]
    assert capsys.readouterr().err == ""


def test_misspelled_hook_fails_the_plugin_naming_it(capsys):
    @hookimpl
    def zoo_register_model(registry):  # singular: not a hook
        registry.register("typo/net", lambda: None)

    pm = PluginManager()
    pm.register(plugin(zoo_register_models=register_good_models), "good")
    pm.register(plugin(zoo_register_model=zoo_register_model), "typo")
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "zoo: warning: plugin 'typo' failed: unknown hook 'zoo_register_model'" in err
    assert "did you mean 'zoo_register_models'" in err
    assert pm.plugins["typo"].status == "failed"
    assert "good/net" in pm.registries.models and "typo/net" not in pm.registries.models


def test_wrong_argument_name_fails_the_plugin(capsys):
    @hookimpl
    def zoo_register_models(registy):  # misspelled argument
        pass

    pm = PluginManager()
    pm.register(plugin(zoo_register_models=zoo_register_models), "argy")
    assert pm.plugins["argy"].status == "failed"
    assert "registy" in pm.plugins["argy"].error
    assert "plugin 'argy' failed" in capsys.readouterr().err


def test_a_hook_that_raises_takes_only_its_plugin_down(capsys):
    @hookimpl
    def zoo_register_models(registry):
        registry.register("half/first", lambda: None)
        raise RuntimeError("disk on fire")

    @hookimpl
    def zoo_register_losses(registry):
        registry.register("half/loss", lambda: None)

    pm = PluginManager()
    pm.register(plugin(zoo_register_models=register_good_models), "good")
    pm.register(plugin(zoo_register_models=zoo_register_models, zoo_register_losses=zoo_register_losses), "half")
    registries = pm.registries
    assert "good/net" in registries.models
    assert "half/first" not in registries.models  # a half-registered plugin leaves nothing behind
    assert "half/loss" not in registries.losses
    assert pm.plugins["half"].status == "failed"
    assert "zoo_register_models raised RuntimeError: disk on fire" in pm.plugins["half"].error
    assert "plugin 'half' failed" in capsys.readouterr().err


def test_unmarked_hook_function_is_warned_about(capsys):
    def zoo_register_models(registry):  # forgot @hookimpl
        registry.register("quiet/net", lambda: None)

    pm = PluginManager()
    pm.register(plugin(zoo_register_models=zoo_register_models), "quiet")
    assert "not marked with @zoo.hookimpl" in capsys.readouterr().err


def test_two_plugins_one_name_names_both(capsys):
    @hookimpl
    def zoo_register_models(registry):
        registry.register("good/net", lambda: "other")

    pm = PluginManager()
    pm.register(plugin(zoo_register_models=register_good_models), "good")
    pm.register(plugin(zoo_register_models=zoo_register_models), "other")
    registries = pm.registries
    err = capsys.readouterr().err
    assert "'good'" in err and "'other'" in err
    from zoo.registry import ConflictError

    with pytest.raises(ConflictError, match="'good' and 'other'"):  # in the order they were loaded
        registries.models.create("good/net")


def test_lifecycle_hooks_are_called_and_errors_name_the_plugin():
    seen = []

    class Logger:
        @hookimpl
        def zoo_epoch_end(self, run, epoch, metrics):
            seen.append((run, epoch, metrics["loss"]))

    class Broken:
        @hookimpl
        def zoo_run_end(self, run, report, error):
            raise ValueError("nope")

    pm = PluginManager()
    pm.register(Logger(), "logger")
    pm.register(Broken(), "broken")
    pm.call_lifecycle("zoo_epoch_end", run="R", epoch=1, metrics={"loss": 0.5})
    assert seen == [("R", 1, 0.5)]
    from zoo.plugins import PluginError

    with pytest.raises(PluginError, match="plugin 'broken' raised in zoo_run_end: ValueError: nope"):
        pm.call_lifecycle("zoo_run_end", run="R", report={}, error=None)


GOOD_PLUGIN = '''
from zoo import hookimpl

@hookimpl
def zoo_register_models(registry):
    registry.register("goodpkg/net", "goodpkg.models:build", summary="A net from goodpkg")
'''
GOOD_MODELS = '''
def build(num_classes: int = 10, width: int = 4):
    """Build the goodpkg net."""
    return {"num_classes": num_classes, "width": width}
'''


def test_entry_point_plugins_load_and_a_broken_import_is_isolated(tmp_path, zoo_cli):
    site = tmp_path / "site"
    write_plugin_dist(site, "goodpkg", "1.0", {"goodpkg": "goodpkg.plugin"},
                      {"goodpkg/__init__.py": "", "goodpkg/plugin.py": GOOD_PLUGIN, "goodpkg/models.py": GOOD_MODELS})
    write_plugin_dist(site, "badpkg", "0.3", {"badpkg": "badpkg.plugin"},
                      {"badpkg/__init__.py": "", "badpkg/plugin.py": "import not_a_module_anywhere\n"})
    result = zoo_cli("list", "models", "goodpkg/*", extra_path=[site])
    assert result.returncode == 0, result.stderr
    assert "goodpkg/net" in result.stdout and "A net from goodpkg" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "badpkg" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("zoo: warning: plugin 'badpkg' failed: importing 'badpkg.plugin' raised")
    assert "ModuleNotFoundError" in warnings[0]
    assert "Traceback" not in result.stderr

    plugins = zoo_cli("plugins", "--json", extra_path=[site])
    assert plugins.returncode == 0
    by_name = {p["name"]: p for p in json.loads(plugins.stdout)}
    assert by_name["goodpkg"]["status"] == "loaded"
    assert by_name["goodpkg"]["distribution"] == "goodpkg" and by_name["goodpkg"]["version"] == "1.0"
    assert by_name["goodpkg"]["counts"] == {"models": 1}
    assert by_name["badpkg"]["status"] == "failed" and "not_a_module_anywhere" in by_name["badpkg"]["error"]

    text = zoo_cli("plugins", extra_path=[site])
    assert "FAILED" in text.stdout and "goodpkg 1.0" in text.stdout

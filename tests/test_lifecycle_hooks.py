"""Lifecycle hooks go through pluggy: wrappers, tryfirst/trylast and specname work as pluggy
documents them, a plugin raising in the per-epoch hook is muted while the others carry on, and an
implementation zoo cannot honour is refused when its plugin loads."""

from __future__ import annotations

import json

import pytest

from zoo import hookimpl
from zoo.plugins import PluginError, PluginManager
from tests.fake_dists import write_plugin_dist
from tests.test_loggers import RECIPE  # digits, a small MLP, 2 epochs

RUN = "the run"  # the lifecycle hooks pass it on untouched; these tests only follow the calls


def call_run_end(pm: PluginManager, report: dict) -> None:
    pm.call_lifecycle("zoo_run_end", run=RUN, report=report, error=None)


def test_a_wrapper_runs_around_zoo_run_end_and_sees_the_report():
    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def zoo_run_end(self, run, report, error):
            seen.append(("before", report["accuracy"]))
            result = yield
            seen.append(("after", result))
            return result

    class Writer:
        @hookimpl
        def zoo_run_end(self, run, report, error):
            seen.append(("writer", report["accuracy"]))

    pm = PluginManager()
    pm.register(Wrapper(), "wrapper")
    pm.register(Writer(), "writer")
    call_run_end(pm, {"accuracy": 0.9})
    assert seen == [("before", 0.9), ("writer", 0.9), ("after", [])]
    assert pm.plugins["wrapper"].status == "loaded"


def test_a_wrapper_sees_the_exception_and_the_error_names_the_plugin_that_raised_it():
    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def zoo_run_end(self, run, report, error):
            try:
                return (yield)
            except ValueError as exc:
                seen.append(f"wrapper saw {exc}")
                raise

    class Broken:
        @hookimpl
        def zoo_run_end(self, run, report, error):
            raise ValueError("disk full")

    pm = PluginManager()
    pm.register(Wrapper(), "wrapper")
    pm.register(Broken(), "broken")
    with pytest.raises(PluginError, match="plugin 'broken' raised in zoo_run_end: ValueError: disk full"):
        call_run_end(pm, {})
    assert seen == ["wrapper saw disk full"]


def test_a_wrapper_that_raises_after_its_yield_is_the_plugin_named():
    class Wrapper:
        @hookimpl(wrapper=True)
        def zoo_run_end(self, run, report, error):
            yield
            raise OSError("cannot upload")

    pm = PluginManager()
    pm.register(Wrapper(), "uploader")
    with pytest.raises(PluginError, match="plugin 'uploader' raised in zoo_run_end: OSError: cannot upload"):
        call_run_end(pm, {})


def test_an_old_style_hookwrapper_runs_around_zoo_run_end():
    seen = []

    class OldWrapper:
        @hookimpl(hookwrapper=True)
        def zoo_run_end(self, run, report, error):
            seen.append("before")
            outcome = yield
            seen.append(("after", outcome.get_result(), report["accuracy"]))

    class Writer:
        @hookimpl
        def zoo_run_end(self, run, report, error):
            seen.append("writer")

    pm = PluginManager()
    pm.register(OldWrapper(), "old")
    pm.register(Writer(), "writer")
    call_run_end(pm, {"accuracy": 0.5})
    assert seen == ["before", "writer", ("after", [], 0.5)]


def epoch_logger(seen: list, name: str, **options):
    """A plugin object whose zoo_epoch_end (marked with ``options``) appends ``name`` to ``seen``."""
    class Logger:
        @hookimpl(**options)
        def zoo_epoch_end(self, run, epoch, metrics):
            seen.append(name)

    return Logger()


def test_tryfirst_and_trylast_order_the_per_epoch_hook():
    """Registered early, late, plain: pluggy alone would call plain, then late, then early."""
    seen = []
    pm = PluginManager()
    pm.register(epoch_logger(seen, "early", tryfirst=True), "early")
    pm.register(epoch_logger(seen, "late", trylast=True), "late")
    pm.register(epoch_logger(seen, "plain"), "plain")
    pm.call_lifecycle("zoo_epoch_end", isolate=True, run=RUN, epoch=1, metrics={})
    assert seen == ["early", "plain", "late"]


def test_specname_names_the_hook_a_function_implements(capsys):
    seen = []

    class Logger:
        @hookimpl(specname="zoo_epoch_end")
        def log_round(self, run, epoch, metrics):
            seen.append(epoch)

    pm = PluginManager()
    pm.register(Logger(), "logger")
    pm.call_lifecycle("zoo_epoch_end", isolate=True, run=RUN, epoch=4, metrics={})
    assert seen == [4]
    assert pm.plugins["logger"].hooks == ["zoo_epoch_end"]
    assert capsys.readouterr().err == ""


def test_an_optional_hook_zoo_does_not_have_is_accepted(capsys):
    class Forward:
        @hookimpl(optionalhook=True)
        def zoo_export_done(self, run):  # a hook of a newer zoo
            pass

    pm = PluginManager()
    pm.register(Forward(), "forward")
    assert pm.plugins["forward"].status == "loaded"
    assert capsys.readouterr().err == ""


def test_a_plugin_raising_in_zoo_epoch_end_is_muted_and_the_others_get_every_call(capsys):
    calls = {"before": [], "flaky": [], "after": [], "wrapper": []}

    def recorder(name, fail_at=None):
        class Plugin:
            @hookimpl
            def zoo_epoch_end(self, run, epoch, metrics):
                calls[name].append(epoch)
                if epoch == fail_at:
                    raise ConnectionError("dashboard unreachable")

            @hookimpl
            def zoo_run_end(self, run, report, error):
                calls[name].append("end")

        return Plugin()

    class Wrapper:
        @hookimpl(wrapper=True)
        def zoo_epoch_end(self, run, epoch, metrics):
            yield
            calls["wrapper"].append(epoch)

    pm = PluginManager()
    pm.register(Wrapper(), "wrapper")
    pm.register(recorder("after"), "after")  # pluggy calls the last registered first
    pm.register(recorder("flaky", fail_at=2), "flaky")
    pm.register(recorder("before"), "before")
    for epoch in (1, 2, 3):
        pm.call_lifecycle("zoo_epoch_end", isolate=True, run=RUN, epoch=epoch, metrics={})
    call_run_end(pm, {})
    assert calls == {"before": [1, 2, 3, "end"], "flaky": [1, 2], "after": [1, 2, 3, "end"], "wrapper": [1, 2, 3]}
    assert capsys.readouterr().err.splitlines() == [
        "zoo: warning: plugin 'flaky' raised in zoo_epoch_end: ConnectionError: dashboard unreachable; "
        "its lifecycle hooks are off for the rest of this run"]


def test_a_wrapper_raising_in_zoo_epoch_end_is_muted_and_the_call_goes_on(capsys):
    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def zoo_epoch_end(self, run, epoch, metrics):
            yield
            raise KeyError("step")

    pm = PluginManager()
    pm.register(epoch_logger(seen, "logger"), "logger")
    pm.register(Wrapper(), "wrapper")
    for epoch in (1, 2):
        pm.call_lifecycle("zoo_epoch_end", isolate=True, run=RUN, epoch=epoch, metrics={})
    assert seen == ["logger", "logger"]
    assert pm.muted == {"wrapper"}
    err = capsys.readouterr().err.splitlines()
    assert err == ["zoo: warning: plugin 'wrapper' raised in zoo_epoch_end: KeyError: 'step'; "
                   "its lifecycle hooks are off for the rest of this run"]


def never_yields(self, run, epoch, metrics):
    if epoch < 0:
        yield


def yields_twice(self, run, epoch, metrics):
    yield
    yield


@pytest.mark.parametrize("function, why", [(never_yields, "did not yield"), (yields_twice, "has a second yield")])
def test_a_broken_wrapper_in_zoo_epoch_end_is_muted_naming_what_it_did(function, why, capsys):
    seen = []
    pm = PluginManager()
    pm.register(epoch_logger(seen, "logger"), "logger")
    pm.register(type("Broken", (), {"zoo_epoch_end": hookimpl(wrapper=True)(function)})(), "broken")
    pm.call_lifecycle("zoo_epoch_end", isolate=True, run=RUN, epoch=1, metrics={})
    assert seen == ["logger"]
    assert f"plugin 'broken' raised in zoo_epoch_end: RuntimeError: wrapper {function.__qualname__} {why}" \
        in capsys.readouterr().err


@pytest.mark.parametrize("option", ["wrapper", "hookwrapper"])
@pytest.mark.parametrize("hook", ["zoo_register_models", "zoo_recipe_dirs"])
def test_a_wrapper_on_a_per_plugin_hook_is_refused_when_the_plugin_loads(option, hook, capsys):
    def wrapping(*args):
        yield

    wrapping.__name__ = hook
    pm = PluginManager()
    pm.register(type("Plugin", (), {hook: staticmethod(hookimpl(**{option: True})(wrapping))})(), "wrapping")
    info = pm.plugins["wrapping"]
    assert info.status == "failed"
    assert info.error == (f"{hook} is marked {option}=True, but zoo calls {hook} one plugin at a time, so there "
                          f"is no call for a wrapper to wrap; implement it without {option}=True")
    assert capsys.readouterr().err.splitlines() == [f"zoo: warning: plugin 'wrapping' failed: {info.error}"]
    assert pm.pm.get_plugin("wrapping") is None  # never called: not in pluggy's manager any more


def test_tryfirst_on_a_registration_hook_puts_the_plugin_first(tmp_path):
    """Registration hooks are called in load order; tryfirst/trylast move a plugin as pluggy would."""
    def shipping(folder, **options):
        @hookimpl(**options)
        def zoo_recipe_dirs():
            return [folder]

        return type("Plugin", (), {"zoo_recipe_dirs": staticmethod(zoo_recipe_dirs)})()

    pm = PluginManager()
    pm.register(shipping(tmp_path / "a", trylast=True), "a")
    pm.register(shipping(tmp_path / "b"), "b")
    pm.register(shipping(tmp_path / "c"), "c")
    pm.register(shipping(tmp_path / "d", tryfirst=True), "d")
    assert [plugin for plugin, _ in pm.recipe_dirs()] == ["d", "b", "c", "a"]


# -- in a real `zoo run` ---------------------------------------------------------------------

FIRST_PLUGIN = '''
import json
from zoo import hookimpl
from aardvark_zoo import seen


@hookimpl(tryfirst=True)
def zoo_epoch_end(run, epoch, metrics):
    # the built-in logger (zoo_loggers) writes one metrics.jsonl line per call: count them
    logged = len((run.directory / "metrics.jsonl").read_text().splitlines())
    seen.append(["first", epoch, logged])


@hookimpl(wrapper=True)
def zoo_run_end(run, report, error):
    seen.append(["before yield", "test" in report])
    result = yield
    seen.append(["after yield"])
    (run.directory / "seen.json").write_text(json.dumps(seen))
    return result
'''
LAST_PLUGIN = '''
from zoo import hookimpl
from aardvark_zoo import seen


@hookimpl(trylast=True)
def zoo_epoch_end(run, epoch, metrics):
    logged = len((run.directory / "metrics.jsonl").read_text().splitlines())
    seen.append(["last", epoch, logged])


@hookimpl
def zoo_run_end(run, report, error):
    seen.append(["run end", error is None])
'''


def test_a_wrapper_and_tryfirst_plugin_installed_for_real_in_a_zoo_run(tmp_path, zoo_cli):
    """Entry points 'aardvark' (loaded before the built-in 'loggers') and 'zebra' (after): pluggy
    alone would call zebra, loggers, aardvark; tryfirst and trylast make it aardvark, loggers, zebra."""
    site = tmp_path / "site"
    write_plugin_dist(site, "aardvark-zoo", "0.1", {"aardvark": "aardvark_zoo.first", "zebra": "aardvark_zoo.last"},
                      {"aardvark_zoo/__init__.py": "seen = []\n", "aardvark_zoo/first.py": FIRST_PLUGIN,
                       "aardvark_zoo/last.py": LAST_PLUGIN})
    (tmp_path / "digits.yaml").write_text(RECIPE)
    result = zoo_cli("run", tmp_path / "digits.yaml", "--output", tmp_path / "run", extra_path=[site])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    seen = json.loads((tmp_path / "run" / "seen.json").read_text())
    assert seen == [
        ["first", 1, 0], ["last", 1, 1],  # before the built-in logger wrote epoch 1's line, and after
        ["first", 2, 1], ["last", 2, 2],
        ["before yield", True],
        ["run end", True],
        ["after yield"],
    ]


def test_a_plugin_raising_in_zoo_run_end_after_a_failed_run_leaves_the_task_error_to_report(tmp_path, capsys):
    """The task's own error (a NaN loss naming the last good checkpoint) is what the user reads;
    the plugin that raised while the run ended is a warning line."""
    from tests.conftest import register_in_process
    from tests.test_training_health import SENSORS, sensors
    from zoo.cli import main
    from zoo.plugins import get_manager

    register_in_process("datasets", "acme/sensors", sensors)

    class Uploader:
        @hookimpl
        def zoo_run_end(self, run, report, error):
            raise OSError("cannot upload")

    get_manager().register(Uploader(), "uploader")
    recipe = tmp_path / "sensors.yaml"
    recipe.write_text(SENSORS)
    assert main(["run", str(recipe), "--output", str(tmp_path / "run"), "data.poison=train"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("zoo: error: the training loss is nan at epoch 1")
    assert "zoo: warning: plugin 'uploader' raised in zoo_run_end: OSError: cannot upload" in err

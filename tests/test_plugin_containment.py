"""Plugins that misbehave while they load can't stop zoo, corrupt its output or change the interpreter.

Each plugin here is a real installed distribution (``*.dist-info`` with a ``zoo.plugins`` entry
point) found through importlib.metadata, loaded next to the built-in plugins.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, default_sigint
from tests.fake_dists import write_plugin_dist
from zoo.plugins import PluginManager

GOOD = '''
from zoo import hookimpl

@hookimpl
def zoo_register_models(registry):
    registry.register("{name}/net", lambda num_classes=10: None, summary="A net from {name}")
'''


def install(site, package: str, prelude: str, body: str = GOOD) -> None:
    """Install the plugin ``package`` whose module runs ``prelude`` at import, then registers ``<package>/net``."""
    write_plugin_dist(site, package.replace("_", "-"), "1.0", {package: f"{package}.plugin"}, {
        f"{package}/__init__.py": "",
        f"{package}/plugin.py": prelude + body.replace("{name}", package),
    })


def unique(package: str) -> str:
    """``package`` with a suffix never imported before in this process (a module is imported once)."""
    unique.count = getattr(unique, "count", 0) + 1
    return f"{package}{unique.count}"


def loaded(site, monkeypatch) -> PluginManager:
    monkeypatch.syspath_prepend(str(site))
    manager = PluginManager()
    manager.load_entrypoints()
    return manager


def zoo(*args, site, env=None, timeout=120):
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO), str(REPO / "plugins")]),
                    **(env or {}))
    return subprocess.run([sys.executable, "-m", "zoo", *args], env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def test_a_plugin_that_hangs_at_import_is_given_up_after_the_bound(tmp_path, monkeypatch, capsys):
    install(tmp_path, "acme_slow", "import time\ntime.sleep(600)\n")
    install(tmp_path, "acme_good", "")
    monkeypatch.setenv("ZOO_PLUGIN_TIMEOUT", "1")
    started = time.monotonic()
    manager = loaded(tmp_path, monkeypatch)
    assert time.monotonic() - started < 30
    slow = manager.plugins["acme_slow"]
    assert slow.status == "failed"
    assert slow.error == ("importing 'acme_slow.plugin' took longer than 1 s and was given up ($ZOO_PLUGIN_TIMEOUT "
                          "sets the bound; 'zoo list --refresh' tries again)")
    assert "zoo: warning: plugin 'acme_slow' failed: importing 'acme_slow.plugin' took longer" in capsys.readouterr().err
    assert "acme_good/net" in manager.registries.models and "mlp" in manager.registries.models


def test_json_stays_valid_and_zoo_ends_with_a_plugin_still_hanging_and_others_printing(tmp_path):
    """``zoo list models --json`` with a plugin stuck at import and others printing (at import, while
    registering): valid JSON on stdout, the prints on stderr, the process ends (daemon thread)."""
    install(tmp_path, "acme_slow", "import time\ntime.sleep(600)\n")
    install(tmp_path, "acme_chatty", "print('hello from acme_chatty')\n", GOOD.replace(
        "def zoo_register_models(registry):\n", "def zoo_register_models(registry):\n    print('registering')\n"))
    started = time.monotonic()
    result = zoo("list", "models", "acme*", "--json", site=tmp_path, env={"ZOO_PLUGIN_TIMEOUT": "2"})
    assert time.monotonic() - started < 60
    assert result.returncode == 0, result.stderr
    assert [row["name"] for row in json.loads(result.stdout)] == ["acme_chatty/net"]
    assert "hello from acme_chatty" in result.stderr and "registering" in result.stderr
    assert "plugin 'acme_slow' failed: importing 'acme_slow.plugin' took longer than 2 s" in result.stderr
    cached = zoo("list", "models", "acme*", "--json", site=tmp_path)  # from the cache: no import at all
    assert json.loads(cached.stdout) == json.loads(result.stdout)


@pytest.mark.parametrize("raised", ["KeyboardInterrupt", "SystemExit(0)", "SystemExit(3)", "GeneratorExit"])
def test_a_plugin_raising_a_base_exception_at_import_fails_alone(tmp_path, monkeypatch, capsys, raised):
    """``raise KeyboardInterrupt`` in a plugin is the plugin's failure, not the user's Ctrl-C."""
    rude = unique("acme_rude")
    install(tmp_path, rude, f"raise {raised}\n")
    install(tmp_path, "acme_good", "")
    manager = loaded(tmp_path, monkeypatch)
    assert manager.plugins[rude].status == "failed"
    assert manager.plugins[rude].error.startswith(f"importing '{rude}.plugin' raised {raised.split('(')[0]}")
    assert "acme_good/net" in manager.registries.models
    assert f"plugin '{rude}' failed" in capsys.readouterr().err


def test_a_registration_hook_raising_system_exit_fails_its_plugin_alone(tmp_path, monkeypatch):
    install(tmp_path, "acme_exit", "", GOOD.replace("    registry.register(", "    raise SystemExit(1)\n    registry.register("))
    manager = loaded(tmp_path, monkeypatch)
    assert "acme_exit/net" not in manager.registries.models and "mlp" in manager.registries.models
    assert manager.plugins["acme_exit"].error == "zoo_register_models raised SystemExit: 1"


@pytest.mark.parametrize("prelude, what", [
    ("import sys\nsys.setrecursionlimit(50)\n", "the recursion limit"),
    ("import os\nos.chdir('/')\n", "the working folder"),
    ("import sys, io\nsys.stderr = io.StringIO()\n", "sys.stderr"),
    ("import gc\ngc.disable()\n", "the garbage collector (enabled)"),
])
def test_interpreter_state_a_plugin_changes_is_put_back(tmp_path, monkeypatch, capsys, prelude, what):
    """``sys.setrecursionlimit(50)`` in one plugin broke the plugins loaded after it: no more."""
    monkeypatch.chdir(tmp_path)
    limit, folder = sys.getrecursionlimit(), os.getcwd()
    meddler = unique("aaa_meddler")  # loads first: before the built-in plugins
    install(tmp_path, meddler, prelude)
    manager = loaded(tmp_path, monkeypatch)
    assert (sys.getrecursionlimit(), os.getcwd()) == (limit, folder)
    assert all(info.status == "loaded" for info in manager.plugins.values())
    assert f"zoo: warning: plugin '{meddler}' changed {what} (" in capsys.readouterr().err


def test_a_plugin_replacing_sys_stdout_is_put_back(tmp_path, monkeypatch, capsys):
    install(tmp_path, "acme_stdout", "import sys, io\nsys.stdout = io.StringIO()\n")
    loaded(tmp_path, monkeypatch)
    print("still here")
    out, err = capsys.readouterr()
    assert out == "still here\n"
    assert "zoo: warning: plugin 'acme_stdout' replaced sys.stdout while loading; zoo put it back" in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_real_ctrl_c_while_a_plugin_imports_still_stops_zoo(tmp_path):
    importing = tmp_path / "importing"  # the plugin's import has begun: zoo is inside its loading step
    install(tmp_path, "acme_slow", f"import pathlib, time\npathlib.Path({str(importing)!r}).touch()\ntime.sleep(600)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO), str(REPO / "plugins")]))
    process = subprocess.Popen([sys.executable, "-m", "zoo", "list", "models", "--refresh"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while not importing.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "zoo: interrupted"
    assert "Traceback" not in err

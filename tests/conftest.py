"""Shared fixtures: every test gets its own catalog cache and a fresh plugin manager."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """A private ZOO_CACHE_DIR, and no plugin manager left over from another test."""
    cache = tmp_path_factory.mktemp("zoo-cache")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(cache))
    from zoo.plugins import reset_manager

    reset_manager()
    yield cache
    reset_manager()


def default_sigint() -> None:
    """``preexec_fn`` for a child that a test stops with SIGINT: Python turns SIGINT into
    KeyboardInterrupt only when it starts with the default disposition, and a test runner started
    in the background (``cmd &`` without job control) passes SIGINT on as ignored."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_zoo(*args, cwd=None, env=None, extra_path=(), timeout=300):
    """Run ``python -m zoo ARGS`` in a fresh process; return the CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if extra_path:
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(p) for p in extra_path] + ([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else [])
        )
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.run(
        [sys.executable, "-m", "zoo", *map(str, args)],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def zoo_cli():
    return run_zoo


def register_in_process(kind: str, name: str, factory, plugin: str = "acme") -> None:
    """Register ``factory`` as ``name`` in the registry ``kind`` ("datasets", "tasks", ...) of this
    process's plugin manager, as a plugin called ``plugin`` would (through its hook)."""
    from zoo import hookimpl
    from zoo.plugins import get_manager

    hook = f"zoo_register_{kind}"

    def register(registry):
        registry.register(name, factory)

    get_manager().register(type(plugin, (), {hook: staticmethod(hookimpl(register))})(), plugin)


def train_in_process(recipe: Path, output: Path, cache: Path) -> Path:
    """``zoo run RECIPE --output OUTPUT`` in this process, with the catalog cache ``cache`` and a
    fresh plugin manager before and after (for module-scoped fixtures). Returns ``output``."""
    from zoo.cli import main
    from zoo.plugins import reset_manager

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZOO_CACHE_DIR", str(cache))
        reset_manager()
        try:
            assert main(["run", str(recipe), "--output", str(output)]) == 0
        finally:
            reset_manager()
    return output

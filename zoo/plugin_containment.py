"""Running a plugin's loading code so that it can't stop zoo, corrupt its output or change the interpreter.

``contained(call, plugin=..., doing=...)`` runs ``call()`` (importing a plugin's entry point,
calling one of its registration hooks, listing its catalog) the way zoo runs every piece of a
plugin's loading code:

- **bounded:** in a daemon thread that zoo waits for at most ``import_timeout()`` seconds
  (``$ZOO_PLUGIN_TIMEOUT``, default 60). A plugin still busy then is given up
  (``TimedOut``); its thread can't keep the process alive at exit.
- **its exceptions are its own:** anything it raises, ``SystemExit`` and ``KeyboardInterrupt``
  included, comes back as ``Raised`` (the exception in ``.error``): in the worker thread those
  can only come from the plugin. A real Ctrl-C reaches the main thread, which is waiting, and
  stops zoo as usual.
- **its prints go to stderr:** what the plugin's thread writes to ``sys.stdout`` goes to
  ``sys.stderr``, even after a time-out, so ``zoo list models --json`` stays valid JSON.
- **interpreter state is put back:** the recursion limit, the thread switch interval, the
  largest integer string, the garbage collector, the working folder, ``sys.stdin``,
  ``sys.stdout``, ``sys.stderr`` and ``sys.excepthook``, each changed by the plugin, are restored
  and the change is reported in one warning naming the plugin.

What zoo cannot contain: ``os._exit()`` ends the process at once (nothing runs after it), and a
thread stuck in C code keeps its CPU; the README says so.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from typing import Any, Callable, Optional

DEFAULT_TIMEOUT = 60.0
TIMEOUT_VARIABLE = "ZOO_PLUGIN_TIMEOUT"


class TimedOut(Exception):
    """The plugin's code was still running after ``seconds``; it was left behind."""

    def __init__(self, seconds: float):
        super().__init__(f"still running after {seconds:g} s")
        self.seconds = seconds


class Raised(Exception):
    """The plugin's code raised ``error`` (any ``BaseException``)."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def import_timeout() -> float:
    """Seconds a plugin's loading step may take: ``$ZOO_PLUGIN_TIMEOUT`` (a positive number), else 60."""
    text = os.environ.get(TIMEOUT_VARIABLE, "")
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 and value != float("inf") else DEFAULT_TIMEOUT


class _StdoutRouter:
    """``sys.stdout`` while plugin threads run: their writes go to ``sys.stderr``, the rest to ``stdout``."""

    def __init__(self, stdout: Any):
        self.stdout = stdout
        self.threads: set = set()

    def _target(self) -> Any:
        return sys.stderr if threading.current_thread() in self.threads else self.stdout

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stdout, name)


def _optional(getter: str, setter: str) -> tuple:
    """``(get, set)`` of ``sys.<getter>``/``sys.<setter>`` where this Python has them, else ``(None, None)``."""
    return getattr(sys, getter, None), getattr(sys, setter, None)


def _set_gc(enabled: bool) -> None:
    gc.enable() if enabled else gc.disable()


def _attribute(name: str) -> tuple:
    return (lambda: getattr(sys, name)), (lambda value: setattr(sys, name, value))


# (what a warning calls it, read it, set it back)
_STATE = [
    ("the recursion limit", sys.getrecursionlimit, sys.setrecursionlimit),
    ("the thread switch interval", sys.getswitchinterval, sys.setswitchinterval),
    ("the largest integer string", *_optional("get_int_max_str_digits", "set_int_max_str_digits")),
    ("the garbage collector (enabled)", gc.isenabled, _set_gc),
    ("the working folder", os.getcwd, os.chdir),
    ("sys.stdin", *_attribute("stdin")),
    ("sys.stderr", *_attribute("stderr")),
    ("sys.excepthook", *_attribute("excepthook")),
]
_STATE = [item for item in _STATE if item[1] is not None]


def _snapshot() -> list:
    values = []
    for _, get, _ in _STATE:
        try:
            values.append(get())
        except OSError:  # the working folder was removed under us: nothing to compare
            values.append(None)
    return values


def _restore(before: list, plugin: str, report: Callable[[str], None]) -> None:
    for (what, get, put), old in zip(_STATE, before):
        try:
            new = get()
        except OSError:
            new = None
        if old is None or new is old or new == old:
            continue
        try:
            put(old)
        except (OSError, ValueError):
            report(f"plugin {plugin!r} changed {what} ({_shown(old)} -> {_shown(new)}) and zoo could not put it back")
            continue
        report(f"plugin {plugin!r} changed {what} ({_shown(old)} -> {_shown(new)}) while loading; zoo put it back")


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, (int, float, str, bool)) else type(value).__name__


def contained(call: Callable[[], Any], *, plugin: str, report: Callable[[str], None],
              timeout: Optional[float] = None) -> Any:
    """``call()`` run as a plugin's loading code (see the module docstring); returns what it returns.

    ``plugin``: the plugin's name, for the warnings; ``report``: prints one warning line;
    ``timeout``: seconds to wait (default ``import_timeout()``). Raises ``TimedOut`` or ``Raised``;
    a real Ctrl-C while waiting raises ``KeyboardInterrupt`` here.
    """
    seconds = import_timeout() if timeout is None else timeout
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 (the plugin's own, handed back as Raised)
            outcome["error"] = exc

    before = _snapshot()
    stdout = sys.stdout
    router = stdout if isinstance(stdout, _StdoutRouter) else _StdoutRouter(stdout)
    thread = threading.Thread(target=target, name=f"zoo plugin {plugin}", daemon=True)
    router.threads.add(thread)
    sys.stdout = router
    try:
        thread.start()
        thread.join(seconds)
    finally:
        replaced = sys.stdout is not router
        if not thread.is_alive():
            router.threads.discard(thread)
        sys.stdout = router if router.threads else router.stdout
        if replaced:
            report(f"plugin {plugin!r} replaced sys.stdout while loading; zoo put it back")
        _restore(before, plugin, report)
    if thread.is_alive():
        raise TimedOut(seconds)
    if "error" in outcome:
        raise Raised(outcome["error"])
    return outcome.get("value")

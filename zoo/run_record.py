"""``run.json``: what state a run folder's run is in, written by ``zoo.run`` as the run goes.

At the start (and again at each ``--resume``) the state is ``running``, with the process's
``pid``, its start time (``pid_started``, where the system tells it) and the ``host``, so that a
reader can tell a run still going from one whose process died (``live_state``: ``killed``). At
the end the state is ``finished``, ``failed`` (with the one-line ``error``), ``interrupted``
(Ctrl-C, SIGTERM) or what the stopping exception's ``run_state`` class attribute says (a pruned
sweep trial: ``pruned``). The file is replaced atomically each time (``zoo.atomic``).

Its keys: ``state``, ``name``, ``started`` and ``ended`` (local ISO times, seconds), ``seconds``
(wall time over every session of the run), ``pid``, ``pid_started``, ``host``, ``overrides`` (every
``KEY=VALUE`` given, the first run's then each resume's), ``recipe`` (the file run), ``error``,
``headline`` (the task's one line), ``device``, ``versions`` (zoo, python, torch) and ``resumed``
(the times of each resume). This module imports only the standard library: ``zoo runs`` reads it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
import time
from pathlib import Path
from typing import Any, Optional

RECORD = "run.json"
STATES = ("running", "finished", "failed", "interrupted", "pruned", "killed", "unknown")


def now_text() -> str:
    """The local time now as ``YYYY-mm-ddTHH:MM:SS``."""
    return _dt.datetime.now().isoformat(timespec="seconds")


def read_record(folder: Path) -> Optional[dict]:
    """The run.json of the run folder ``folder``; None when it has none or it is not a JSON object."""
    try:
        with open(Path(folder) / RECORD, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(folder: Path, record: dict) -> None:
    """Replace ``folder``/run.json with ``record``, atomically."""
    from zoo.atomic import write_text

    write_text(Path(folder) / RECORD, json.dumps(record, indent=2) + "\n")


def start_record(folder: Path, *, name: str, recipe: Optional[str], overrides: list, device: str,
                 versions: dict, resumed: bool) -> dict:
    """Write run.json for a run starting (``resumed``: continuing) in ``folder`` in this process;
    return the record. A resume keeps the first session's start, overrides and seconds."""
    previous = (read_record(folder) or {}) if resumed else {}
    record = {
        "state": "running", "name": name, "started": previous.get("started") or now_text(), "ended": None,
        "seconds": previous.get("seconds") or 0.0, "pid": os.getpid(), "pid_started": process_start(os.getpid()),
        "host": socket.gethostname(), "overrides": list(previous.get("overrides") or []) + list(overrides),
        "recipe": recipe if not previous.get("recipe") else previous["recipe"], "error": None, "headline": None,
        "device": device, "versions": versions, "resumed": list(previous.get("resumed") or []),
    }
    if resumed:
        record["resumed"].append(now_text())
    record["session_clock"] = time.monotonic()
    write_record(folder, {k: v for k, v in record.items() if k != "session_clock"})
    return record


def end_record(folder: Path, record: dict, state: str, *, error: Optional[str] = None,
               headline: Optional[str] = None) -> None:
    """Write run.json for the run of ``record`` (``start_record``'s) ended in ``state``."""
    done = {k: v for k, v in record.items() if k != "session_clock"}
    done.update(state=state, ended=now_text(), error=error, headline=headline or None,
                seconds=round(float(done.get("seconds") or 0.0) + time.monotonic() - record["session_clock"], 3))
    write_record(folder, done)


def duration_text(seconds: float) -> str:
    """``3.9 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def state_of_exception(exc: BaseException) -> str:
    """The state a run stopped by ``exc`` ends in: ``interrupted`` for Ctrl-C and SIGTERM
    (``KeyboardInterrupt``, ``zoo.errors.Interrupted``), the exception class's ``run_state`` when it
    declares one (a str), else ``failed``."""
    declared = getattr(type(exc), "run_state", None)
    if isinstance(declared, str) and declared:
        return declared
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return "failed"


def error_line(exc: BaseException) -> str:
    """``exc`` as the one line run.json keeps: ``Type: message`` (a ``UserError``'s message alone)."""
    from zoo.errors import UserError

    text = " ".join(str(exc).split())[:500]
    if isinstance(exc, UserError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def live_state(record: dict) -> str:
    """The state ``record`` (a run.json) describes, with a ``running`` run whose process is gone
    on this host shown as ``killed``. A run on another host can't be checked: it stays ``running``."""
    state = record.get("state")
    if state not in STATES:
        return "unknown"
    if state != "running" or record.get("host") != socket.gethostname():
        return state
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return "killed"
    return "running" if process_alive(pid, record.get("pid_started")) else "killed"


def process_alive(pid: int, started: Any) -> bool:
    """Whether process ``pid`` exists and, where the system tells start times, is the one that
    started at ``started`` (a pid reused by a later process is not the run's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    now = process_start(pid)
    return started is None or now is None or now == started


def process_start(pid: int) -> Optional[int]:
    """When process ``pid`` started, in clock ticks since boot (Linux's /proc); None elsewhere."""
    if platform.system() != "Linux":
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_space() -> Optional[str]:
    """Which pids this process can see, as ``<boot id>:<pid namespace>`` (Linux; None elsewhere):
    two containers that share a host name (``--network host``) have different pid namespaces, so
    a pid recorded in one says nothing about a process in the other."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None

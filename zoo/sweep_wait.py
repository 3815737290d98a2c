"""Waiting, once this process's queue is empty, for the sweep's trials that other processes run.

A sweep shared by several processes (``zoo sweep --join``, on this machine or another) empties
its queue in each of them at about the same time, while the others' last trials still run. The
process the user started waits for those (``wait_for_others``), rewriting its sweep.json as each
ends, so that its table, best trial and pictures are of the whole sweep. A trial is waited for
while the process that holds it may be alive: on this machine, while its pid (and start time)
still exist; on another machine, until it ends, since its liveness can't be seen from here. A
trial a dead process of this machine left RUNNING is not waited for: ``zoo sweep --resume``
continues it. Ctrl-C or SIGTERM stops the waiting, never the other processes' trials.
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from zoo.errors import Terminated
from zoo.run_record import process_alive

#: A trial taken from the queue names its host and pid a moment later; one without them for this
#: long is taken to have lost its process between the two.
UNCLAIMED_SECONDS = 60.0


@dataclass(frozen=True)
class Held:
    """A RUNNING trial: its ``number``, where it runs (``host``, ``pid``), and whether that
    process may still be alive."""

    number: int
    host: Optional[str]
    pid: Optional[int]
    alive: bool

    def where(self) -> str:
        """``on HOST (pid N)``, or ``by a process starting it`` before it names itself."""
        return f"on {self.host} (pid {self.pid})" if self.host else "by a process starting it"


def running_trials(study: Any, *, now: Optional[_dt.datetime] = None) -> list:
    """Each RUNNING trial of the Optuna ``study`` not held by this process, as a ``Held``."""
    import optuna

    host, me = socket.gethostname(), os.getpid()
    now = now or _dt.datetime.now()
    held = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner, pid = trial.user_attrs.get("host"), trial.user_attrs.get("pid")
        if owner == host and pid == me:
            continue
        if owner is None:
            started = trial.datetime_start
            alive = started is None or (now - started).total_seconds() < UNCLAIMED_SECONDS
        elif owner == host:
            alive = isinstance(pid, int) and pid > 0 and process_alive(pid, trial.user_attrs.get("pid_started"))
        else:
            alive = True
        held.append(Held(trial.number, owner, pid if isinstance(pid, int) else None, alive))
    return held


def wait_for_others(study: Any, record: Callable[[], Any], *, resume_command: str, poll: float = 1.0,
                    sleep: Callable[[float], None] = time.sleep) -> tuple:
    """Wait until no trial of ``study`` is RUNNING in a process that may be alive, calling
    ``record()`` (which rewrites sweep.json) whenever a trial's state changes. Prints which trials
    it waits for, and each trial a dead process left, with ``resume_command``. Ctrl-C or SIGTERM
    stops the waiting. Returns ``(the Held trials still running elsewhere when it was stopped, or
    [], the exit status the stop asks for: 130 Ctrl-C, 143 SIGTERM, 0 none)``."""
    announced: set = set()
    states = None
    waiting: list = []

    def terminated(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminated) if threading.current_thread() is threading.main_thread() else None
    try:
        while True:
            now = tuple((t.number, t.state.name) for t in study.get_trials(deepcopy=False))
            if states is not None and now != states:
                record()
            states = now
            held = running_trials(study)
            for trial in held:
                if trial.number in announced:
                    continue
                announced.add(trial.number)
                if trial.alive:
                    print(f"sweep: waiting for trial {trial.number}, running {trial.where()} "
                          f"(Ctrl-C stops the waiting, not the trial)", flush=True)
                else:
                    print(f"sweep: trial {trial.number} was left running by a process that is gone: "
                          f"{resume_command} continues it", flush=True)
            waiting = [t for t in held if t.alive]
            if not waiting:
                return [], 0
            sleep(poll)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (a job scheduler's time limit)
        return waiting, getattr(exc, "exit_code", 130)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

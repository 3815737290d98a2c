"""Waiting, once this process's queue is empty, for the sweep's trials that other processes run.

A sweep shared by several processes (``zoo sweep --join``, on this machine or another) empties
its queue in each of them at about the same time, while the others' last trials still run. The
process the user started waits for those (``wait_for_others``), rewriting its sweep.json as each
ends, so that its table, best trial and pictures are of the whole sweep. A trial is waited for
while the process that holds it may be alive: on this machine, while its pid (and start time)
still exist; on another machine, until it ends, since its liveness can't be seen from here. A
trial a dead process of this machine left RUNNING is not waited for: ``zoo sweep --resume``
continues it. Ctrl-C stops the waiting, never the other processes' trials.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

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
                    sleep: Callable[[float], None] = time.sleep) -> list:
    """Wait until no trial of ``study`` is RUNNING in a process that may be alive, calling
    ``record()`` (which rewrites sweep.json) whenever a trial's state changes. Prints which trials
    it waits for, and each trial a dead process left, with ``resume_command``. Returns the trials
    still running elsewhere when Ctrl-C stopped the waiting (``[]`` when it ran to its end)."""
    announced: set = set()
    states = None
    waiting: list = []
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
                return []
            sleep(poll)
    except KeyboardInterrupt:
        return waiting

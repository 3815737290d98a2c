"""Waiting, once this process's queue is empty, for the sweep's trials that other processes run.

A sweep shared by several processes (``zoo sweep --join``, on this machine or another) empties
its queue in each of them at about the same time, while the others' last trials still run. The
process the user started waits for those (``wait_for_others``), rewriting its sweep.json as each
ends, so that its table, best trial and pictures are of the whole sweep. A trial is waited for
while the process that holds it may be alive: on this machine, while its pid (and start time)
still exist; on another machine, while the heartbeat its process writes into the study every
minute is less than ten minutes old (the machines' clocks are taken to agree within minutes, as
NTP keeps them). A trial whose process is gone is not waited for:
``zoo sweep --resume`` continues it (from its checkpoints when its run folder is on this
machine, else from the start). Ctrl-C or SIGTERM stops the waiting, never the other processes' trials.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from zoo.errors import Terminated
from zoo.run_record import process_alive, process_space

#: A trial taken from the queue names its host and pid a moment later; one without them for this
#: long is taken to have lost its process between the two.
UNCLAIMED_SECONDS = 60.0
#: A trial's process writes the time into the study (user attribute ``seen``) this often
#: (``zoo.sweep_trial``); one on another machine silent for ``STALE_SECONDS`` is taken to be gone.
HEARTBEAT_SECONDS = 60.0
STALE_SECONDS = 600.0


@dataclass(frozen=True)
class Held:
    """A RUNNING trial: its ``number``, where it runs (``host``, ``pid``), whether that process may
    still be alive, and for one on another machine how long it has been ``silent`` (seconds since
    its last heartbeat; None before it sent one)."""

    number: int
    host: Optional[str]
    pid: Optional[int]
    alive: bool
    silent: Optional[float] = None

    def where(self) -> str:
        """``on HOST (pid N)``, or ``by a process starting it`` before it names itself."""
        return f"on {self.host} (pid {self.pid})" if self.host else "by a process starting it"

    def gone(self) -> str:
        """Why the trial is taken to have lost its process, for a message."""
        if self.silent is not None and self.silent >= STALE_SECONDS:
            return f"{self.where()} has given no sign of life for {self.silent / 60:.0f} min"
        return "was left running by a process that is gone"


def running_trials(study: Any, *, now: Optional[float] = None) -> list:
    """Each RUNNING trial of the Optuna ``study`` not held by this process, as a ``Held``: on this
    machine (same host name and pid namespace) alive while its pid is; elsewhere while its
    heartbeat (before the first, its start) is under ``STALE_SECONDS`` old by this machine's
    clock; not yet claimed for ``UNCLAIMED_SECONDS``."""
    import optuna

    host, me, space = socket.gethostname(), os.getpid(), process_space()
    now = time.time() if now is None else now
    held = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        attrs = trial.user_attrs
        owner, pid, seen = attrs.get("host"), attrs.get("pid"), attrs.get("seen")
        theirs = attrs.get("process_space")
        here = owner == host and (theirs is None or space is None or theirs == space)
        if here and pid == me:
            continue
        silent = None
        if owner is None:
            started = trial.datetime_start
            alive = started is None or now - started.timestamp() < UNCLAIMED_SECONDS
        elif here:
            alive = isinstance(pid, int) and pid > 0 and process_alive(pid, attrs.get("pid_started"))
        else:  # the clocks of the machines are taken to agree within minutes (NTP)
            if not isinstance(seen, (int, float)) or isinstance(seen, bool):
                seen = trial.datetime_start.timestamp() if trial.datetime_start else now
            silent = now - seen
            alive = silent < STALE_SECONDS
        held.append(Held(trial.number, owner, pid if isinstance(pid, int) else None, alive, silent))
    return held


def wait_for_others(study: Any, record: Callable[[], Any], *, resume_command: str, poll: float = 1.0,
                    sleep: Callable[[float], None] = time.sleep) -> tuple:
    """Wait until no trial of ``study`` is RUNNING in a process that may be alive, calling
    ``record()`` (which rewrites sweep.json) whenever a trial's state changes. Prints which trials
    it waits for, and each trial a dead process left, with ``resume_command``. Ctrl-C or SIGTERM
    stops the waiting. Returns ``(the Held trials still running elsewhere when it was stopped, or
    [], the exit status the stop asks for: 130 Ctrl-C, 143 SIGTERM, 0 none)``."""
    announced: dict = {}  # trial number -> whether it was announced alive
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
                if announced.get(trial.number) == trial.alive:
                    continue
                announced[trial.number] = trial.alive
                if trial.alive:
                    print(f"sweep: waiting for trial {trial.number}, running {trial.where()} "
                          f"(Ctrl-C stops the waiting, not the trial)", flush=True)
                else:
                    print(f"sweep: trial {trial.number} {trial.gone()}: {resume_command} continues it", flush=True)
            waiting = [t for t in held if t.alive]
            if not waiting:
                return [], 0
            sleep(poll)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (a job scheduler's time limit)
        return waiting, getattr(exc, "exit_code", 130)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

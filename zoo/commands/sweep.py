"""``zoo sweep RECIPE KEY=V1,V2 'KEY=loguniform(A,B)' ... [options]``, ``--join SWEEP``, ``--resume DIR``.

Runs the sweep (``zoo.sweep``), waits for the trials other processes still run, then draws its
pictures, rewrites sweep.json and prints the table of trials sorted by the objective with the
best trial's folder. Ctrl-C (or SIGTERM)
stops it with the command that continues it.
"""

from __future__ import annotations

import shlex
from typing import Optional, Sequence

from zoo.errors import Interrupted, RunFailure, UserError


def sweep_command(recipe_spec: Optional[str], arguments: Sequence[str], *, trials: Optional[int] = None,
                  sampler: Optional[str] = None, seeds: int = 1, workers: int = 1, storage: Optional[str] = None,
                  join: Optional[str] = None, prune: Optional[str] = None, resume: Optional[str] = None,
                  objective: str = "valid_loss", output: Optional[str] = None, threads: Optional[int] = None,
                  worker_index: int = 0) -> int:
    """``zoo sweep``: start a sweep of ``recipe_spec`` over ``arguments``, or ``join`` one, or
    ``resume`` one; print its table at the end. Returns the exit status (0); raises
    ``zoo.UserError`` for a mistake (before any trial starts)."""
    from zoo import sweep as sweeps
    from zoo.sweep_table import sweep_table

    if threads is not None and threads < 1:
        raise UserError(f"--threads {threads}: give 1 or more")
    if join or resume:
        flag = "--join" if join else "--resume"
        if join and resume:
            raise UserError("--join and --resume can't be used together: --resume continues a sweep folder, "
                            "--join adds a worker to a running sweep")
        given = [name for name, value in (("RECIPE", recipe_spec), ("KEY=VALUES", arguments), ("--trials", trials),
                                          ("--sampler", sampler), ("--prune", prune), ("--seeds", seeds != 1),
                                          ("--objective", objective != "valid_loss")) if value]
        if given:
            raise UserError(f"{flag} runs the sweep as it was started: give no {given[0]} "
                            f"(its settings are in the study)")
        if resume and (storage or output):
            raise UserError("--resume reads the storage and folder from the sweep folder's sweep.json; "
                            "give no --storage or --output")
    elif not recipe_spec:
        raise UserError("zoo sweep needs a RECIPE and keys to sweep, e.g. zoo sweep quickstart optimizer.lr=0.1,0.01")
    if resume:
        sweep = sweeps.resume(resume, workers=workers, threads=threads)
    elif join:
        sweep = sweeps.join(join, storage=storage, output=output, workers=workers, threads=threads,
                            worker_index=worker_index)
    else:
        options = [(f"--{name}", value) for name, value in (("trials", trials), ("sampler", sampler), ("seeds", seeds),
                   ("workers", workers), ("storage", storage), ("prune", prune), ("objective", objective),
                   ("output", output), ("threads", threads))]
        shown = [part for flag, value in options if value not in (None, 1, "valid_loss") for part in (flag, str(value))]
        sweep = sweeps.start(recipe_spec, arguments, trials=trials, sampler=sampler, seeds=seeds, workers=workers,
                             storage=storage, prune=prune, objective=objective, output=output, threads=threads,
                             command=shlex.join(["zoo", "sweep", recipe_spec, *arguments, *shown]))
    if worker_index:  # a worker process of a parent zoo sweep: the parent draws and prints
        return 0
    document, still_running, stopped = sweeps.finish(sweep)
    print(sweep_table(document, sweep.folder))
    print(f"sweep folder: {sweep.folder}")
    if stopped and not still_running:
        raise Interrupted("interrupted while checking the trials other processes run; the table above is complete",
                          stopped)
    if still_running:  # Ctrl-C or SIGTERM while waiting: the table above is of the sweep so far
        held = still_running[0]
        raise Interrupted(f"stopped waiting for trial {held.number}, still running {held.where()}"
                          f"{f' (and {len(still_running) - 1} more)' if len(still_running) > 1 else ''}; "
                          f"zoo sweep --resume {sweep.folder} waits for it again and updates sweep.json", stopped)
    failed = [t for t in document["trials"] if t["state"] == "failed"]
    if document.get("best") is None and failed:  # a wrong --objective, a recipe that fails whatever the values
        raise RunFailure(f"no trial of the sweep completed: trial {failed[0]['number']}: {failed[0]['error']}")
    return 0


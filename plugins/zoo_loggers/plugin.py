"""Write the metrics a task reports to ``metrics.jsonl`` in the run folder, and to TensorBoard.

The JSONL file has one JSON object a line, one line per ``zoo_epoch_end`` call (a validation
round of a classification run, a step of a style transfer):
``{"epoch": 3, "time": "...", "train_loss": ...}``.
It is opened in append mode, so a resumed run continues the same file (on a new line, should
the last one have been cut short). Each line is flushed as it is written: a killed run keeps
every finished epoch's line.

TensorBoard: when the ``tensorboard`` package is installed, scalars go to
``<run folder>/tensorboard``; when it is not, this writer stays silent.
"""

from __future__ import annotations

import datetime as _dt
import json
import math

from zoo import hookimpl

_open: dict = {}


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep them visible
    return value


def _ends_a_line(path):
    with open(path, "rb") as f:
        f.seek(-1, 2)
        return f.read(1) == b"\n"


@hookimpl
def zoo_run_start(run):
    if run.directory is None:
        return
    jsonl = open(run.directory / "metrics.jsonl", "a", encoding="utf-8")
    if jsonl.tell() and not _ends_a_line(run.directory / "metrics.jsonl"):
        jsonl.write("\n")  # a line cut short (power loss) stays alone, readers skip it
    writers = {"jsonl": jsonl}
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional
        SummaryWriter = None
    if SummaryWriter is not None:
        writers["tensorboard"] = SummaryWriter(log_dir=str(run.directory / "tensorboard"))
    _open[id(run)] = writers


@hookimpl
def zoo_epoch_end(run, epoch, metrics):
    writers = _open.get(id(run))
    if not writers:
        return
    line = {"epoch": epoch, "time": _dt.datetime.now().isoformat(timespec="seconds")}
    line.update({k: _clean(v) for k, v in metrics.items()})
    writers["jsonl"].write(json.dumps(line) + "\n")
    writers["jsonl"].flush()
    board = writers.get("tensorboard")
    if board is not None:
        at = metrics.get("step", epoch)  # rounds inside epochs (task.valid_every) are placed by step
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and key != "step":
                board.add_scalar(key, value, at)
        board.flush()


@hookimpl
def zoo_run_end(run, report, error):
    writers = _open.pop(id(run), None)
    for writer in (writers or {}).values():
        writer.close()

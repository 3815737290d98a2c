"""The end of a classification run: the best checkpoint reloaded and tested per class, the
pictures drawn, and the report written as report.json; the run's sections of report.html."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import torch

from zoo.task import Heading, Paragraph, Picture, Table, metrics_picture
from zoo.toolkit import broadcast_module
from zoo_classify.batches import Batches, batch_at
from zoo_classify.evaluation import evaluate, log_test_table, test_report

if TYPE_CHECKING:
    from zoo_classify.trainer import Trainer


def final_report(trainer: "Trainer") -> dict:
    """Reload the best checkpoint into ``trainer.model``, test it on the test split (per-class
    table in the log), draw the pictures (``task.plots``); return the run's report:
    ``best`` (epoch, valid_loss, valid_accuracy, checkpoint, step), ``epochs_run``, ``classes``, ``test``
    (see ``evaluation.test_report``; absent without a test split) and ``pictures``."""
    run, o, data, state, model = trainer.run, trainer.options, trainer.data, trainer.state, trainer.model
    report: dict = {"best": {"epoch": state.best_epoch, "valid_loss": _finite_or_none(state.best_valid_loss),
                             "checkpoint": str(run.checkpoint_dir / "best.pt") if run.checkpoint_dir else None},
                    "epochs_run": state.epoch, "classes": data.classes}
    if state.best_step is not None:  # task.valid_every: the round's step, counted over the run
        report["best"]["step"] = state.best_step
    round_ = next((r for r in state.history if r.get("epoch") == state.best_epoch and r.get("step") == state.best_step), None)
    if round_ is not None:
        report["best"]["valid_accuracy"] = _finite_or_none(round_.get("valid_accuracy"))
    if state.best_epoch is not None and run.checkpoint_dir is not None:
        model.load_state_dict(run.load_checkpoint("best.pt")["model"])
    if run.world_size > 1 and state.best_epoch is not None:  # rank 0 read best.pt: give it to all
        broadcast_module(model)
    if not data.has_test:
        run.log("no test split: skipping the test")
        return report
    test = Batches(data.test, batch_size=o.evaluation_batch_size, device=run.device, train=False,
                   num_workers=o.num_workers, data_on_device=o.data_on_device, rank=run.rank,
                   world_size=run.world_size)
    drawing = o.plots and run.directory is not None
    outputs: Optional[list] = [] if drawing and o.grid_size else None  # the grid picks from every prediction
    loss, accuracy, confusion = evaluate(model, trainer.criterion, test, data.num_classes, trainer.precision,
                                         outputs=outputs)
    report["test"] = test_report(loss, accuracy, confusion, data.classes)
    log_test_table(run, report["test"])
    if drawing:
        report["pictures"] = draw_pictures(trainer, confusion, outputs or [])
    return report


def draw_pictures(trainer: "Trainer", confusion: torch.Tensor, outputs: list) -> list:
    """Write curves.png, confusion_matrix.png and (``task.grid_size`` > 0) predictions.png in the
    run folder; return their file names ([] without matplotlib).

    ``outputs``: ``(predicted, true)`` class tensors of the test batches this process evaluated
    (``evaluation.evaluate``); the grid shows the mistakes among them first, then right ones
    across the classes (``plots.grid_sample``), and says so in its title. Under torchrun those
    are rank 0's shard of the test split (every ``world_size``-th sample).
    """
    try:
        from zoo_classify import plots
    except ImportError:
        return []
    run, o, data = trainer.run, trainer.options, trainer.data
    written = [plots.plot_curves(trainer.state.history, run.directory / "curves.png"),
               plots.plot_confusion_matrix(confusion, data.classes, run.directory / "confusion_matrix.png")]
    if o.grid_size:
        predicted = torch.cat([p for p, _ in outputs]).tolist() if outputs else []
        truth = torch.cat([t for _, t in outputs]).tolist() if outputs else []
        tested = range(run.rank, len(data.test), run.world_size)  # the samples, in evaluate's order
        chosen = plots.grid_sample(predicted, truth, o.grid_size)
        x, _ = batch_at(data.test, [tested[i] for i in chosen])
        wrong = sum(p != t for p, t in zip(predicted, truth))
        caption = plots.grid_caption(sum(predicted[i] != truth[i] for i in chosen), wrong, len(truth), len(chosen))
        normalize = data.info.get("normalize") or {}
        written.append(plots.plot_prediction_grid(
            x, [predicted[i] for i in chosen], [truth[i] for i in chosen], data.classes,
            run.directory / "predictions.png", mean=normalize.get("mean"), std=normalize.get("std"),
            limit=o.grid_size, title=caption))
    return [p.name for p in written]


# each picture's heading and the width it is shown at (CSS pixels)
PICTURES = {"curves.png": ("Training curves", 1000), "predictions.png": ("Test predictions", 1100),
            "confusion_matrix.png": ("Confusion matrix", 620)}


def report_sections(folder: Path, report: dict) -> list:
    """The classification run's part of report.html: the test figures, the per-class table
    (lowest accuracy first when there are many classes), the curves, the predictions grid and
    the confusion matrix (the pictures its report lists, as they are in ``folder``)."""
    best, test = report.get("best") or {}, report.get("test") or {}
    per_class = test.get("per_class") or {}
    correct = sum(c.get("correct", 0) for c in per_class.values())
    total = sum(c.get("total", 0) for c in per_class.values())
    figures = [("test accuracy", f"{test['accuracy']:.2%} ({correct}/{total})" if "accuracy" in test else None),
               ("test loss", test.get("loss")), ("best epoch", best.get("epoch")),
               ("best validation loss", best.get("valid_loss")), ("epochs run", report.get("epochs_run")),
               ("classes", len(report.get("classes") or []) or None)]
    sections: list = [Heading("Test"), Table((), [row for row in figures if row[1] is not None])]
    if not test:
        sections.append(Paragraph("No test split: the best model was not tested."))
    if per_class:
        rows = [(name, c.get("correct"), c.get("total"),
                 f"{c['accuracy']:.1%}" if c.get("accuracy") is not None and c.get("total") else "N/A")
                for name, c in per_class.items()]
        caption = ""
        if len(rows) > 20:
            rows.sort(key=lambda r: (r[2] == 0, (r[1] or 0) / (r[2] or 1)))
            caption = "per class, the lowest accuracy first"
        sections += [Heading("Per class", 3), Table(("class", "correct", "total", "accuracy"), rows, caption)]
    pictures = [name for name in report.get("pictures") or () if (folder / name).is_file()]
    if "curves.png" not in pictures:  # task.plots: false (as in sweeps): the curves from metrics.jsonl
        curves = metrics_picture(folder)
        if curves is not None:
            sections += [Heading(PICTURES["curves.png"][0]), Picture(curves, "metrics.jsonl", width=1000)]
    for name in pictures:
        title, width = PICTURES.get(name, (name, 720))
        sections += [Heading(title), Picture(folder / name, width=width)]
    return sections


def _finite_or_none(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None

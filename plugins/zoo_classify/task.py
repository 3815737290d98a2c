"""The classification task: the seeds' train / validate / keep-the-best / test-per-class loop.

Behaviour matches the hand-written loop of the seeds where the recipe matches it:
``model.train()`` while training (frozen modules excepted: they stay in eval mode) and
``model.eval()`` with no gradients while evaluating, losses averaged per sample, the best
checkpoint replaced when the validation loss is lower or equal
("validation loss decreased (a --> b), saving"), and after training the best checkpoint is
reloaded and tested with a per-class table.

This module ties the parts together; each has its own module:

    options.py        ClassificationOptions: the task: keys (the schema zoo info shows)
    data.py           ClassificationData: the splits, classes and shapes; load_data
    model.py          build_model, check_forward (one batch through model and loss before training)
    batches.py        Batches: a split's batches, sharded under torchrun
    trainer.py        Trainer: the epochs, steps and validation; fit()
    state.py          TrainingState: how far the run has got (saved in last.pt)
    rounds.py         ValidationRounds: each round's log line, metrics and best model
    checkpoint.py     what last.pt holds, and resuming from it
    feature_cache.py  a frozen backbone's features computed once (features.py: how)
    memory_format.py  whether the model trains channels_last (measured, or as task.channels_last says)
    health.py         what a NaN or infinite loss does
    report.py         the best model tested per class, the pictures (plots.py), report.json
    evaluation.py     loss, accuracy, confusion matrix; the per-class table
    card.py           the model card and example test images kept in best.pt
    inference.py      zoo eval on a finished run; its best model for zoo predict and zoo export
"""

from __future__ import annotations

import inspect
import textwrap
import time
from pathlib import Path
from typing import Any

import torch

from zoo.task import BestModel, Checkpoints, Task
from zoo.toolkit import distributed_backend
from zoo_classify.batches import Batches, auto_workers
from zoo_classify.checkpoint import report_lost_rounds, resume
from zoo_classify.data import load_data
from zoo_classify.feature_cache import cached_head
from zoo_classify.inference import best_model, evaluate_run
from zoo_classify.memory_format import choose_memory_format
from zoo_classify.model import build_model, check_forward, log_weights
from zoo_classify.options import ClassificationOptions, options_help
from zoo_classify.precision import Precision
from zoo_classify.report import final_report, report_sections
from zoo_classify.trainer import Trainer


class ClassificationTask(Task):
    """A classification run (see the module docstring): ``run(run)`` trains and returns the
    report written as report.json; ``setup(run)`` builds what it trains with."""

    sections = ("data", "model", "loss", "optimizer")
    optional_sections = ("scheduler",)
    checkpoints = Checkpoints(resume="checkpoints/last.pt", best="checkpoints/best.pt", progress="epoch",
                              unit="epoch", total="epochs")

    def __init__(self, options: ClassificationOptions):
        self.options = options

    def setup(self, run: Any) -> Trainer:
        """Build what training takes, as ``run`` does before its first epoch: the data and its
        splits, the model (checked with one batch), the loss, the optimizer, the scheduler, the
        batches and the precision. Returns a ``Trainer``, whose ``train_epoch(n)`` and
        ``validate()`` are an epoch of ``run`` (no checkpoint, log line or hook). Raises
        ``zoo.UserError`` for data and a model that don't fit each other.
        """
        o = self.options
        data = load_data(run, o.valid_fraction)
        for note in data.info.get("notes", ()):  # what the dataset says of itself (the size images become...)
            run.log(f"data: {note}")
        data.check_labels(run.recipe.where(("data",)))
        model = build_model(run, data).to(run.device)
        criterion = run.build("loss")
        check_forward(run, model, data, o.batch_size, criterion)
        log_weights(run, model, data.num_classes)
        if o.channels_last is True:  # auto is decided before the first epoch (choose_memory_format)
            model = model.to(memory_format=torch.channels_last)
        optimizer = run.build_optimizer(model)
        shard = {"rank": run.rank, "world_size": run.world_size}  # this process's part under torchrun
        train = Batches(data.train, batch_size=o.batch_size, device=run.device, train=True, seed=run.seed,
                        num_workers=o.num_workers, drop_singleton=True, data_on_device=o.data_on_device, **shard)
        valid = Batches(data.valid, batch_size=o.evaluation_batch_size, device=run.device, train=False,
                        num_workers=o.num_workers, data_on_device=o.data_on_device, **shard)
        if o.num_workers == "auto" and train.uses_loader:
            workers, why = auto_workers(train.dataset)
            run.log(f"data: read item by item with {workers} loader worker{'' if workers == 1 else 's'} "
                    f"(num_workers: auto; {why})")
        scheduler, scheduler_step = None, "epoch"
        if run.has_section("scheduler"):
            scheduler = run.build("scheduler", optimizer, fill={"epochs": o.epochs, "steps_per_epoch": len(train)})
            scheduler_step = run.registries.schedulers.get(run.section("scheduler")["name"]).metadata.get("step", "epoch")
        step_model = torch.compile(model, backend=o.compile_backend) if o.compile else model
        return Trainer(run=run, options=o, data=data, model=model, step_model=step_model, criterion=criterion,
                       optimizer=optimizer, precision=Precision(o.amp, run.device), train=train, valid=valid,
                       scheduler=scheduler, scheduler_step=scheduler_step, channels_last=o.channels_last is True)

    def check(self, run: Any) -> None:
        """``zoo run --dry-run``: build everything training takes and push one batch through the model."""
        self.setup(run)

    def run(self, run: Any) -> dict:
        """Train (from ``last.pt`` when ``run.resumed``), then test the best model; return the report."""
        o = self.options
        trainer = self.setup(run)
        if run.resumed:
            resume(trainer, run.load_checkpoint("last.pt"))
            run.log(f"resuming {run.directory} after epoch {trainer.state.epoch}")
            report_lost_rounds(run, trainer.state)
        self._describe(run, trainer)
        if run.world_size > 1:
            run.log(f"{run.world_size} processes ({distributed_backend(run.device)}): {o.batch_size} samples "
                    f"per process and step, {o.batch_size * run.world_size} in all; {len(trainer.train)} steps per epoch")
        started = time.perf_counter()  # the first epoch's seconds include computing cached features
        step_model, train, valid = cached_head(trainer) or (trainer.step_model, trainer.train, trainer.valid)
        choose_memory_format(trainer, step_model)
        trainer.train_on(step_model, train, valid)
        trainer.fit(started)
        return final_report(trainer)

    def _describe(self, run: Any, trainer: Trainer) -> None:
        data, model = trainer.data, trainer.model
        c, h, w = data.sample_shape
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        run.log(f"{run.name}: {len(data.train)} train / {len(data.valid)} valid / "
                f"{len(data.test) if data.test is not None else 0} test samples, {c}x{h}x{w}, "
                f"{data.num_classes} classes; {trainable:,} of {total:,} parameters trained on {run.device}")

    def evaluate(self, run: Any) -> dict:
        """``zoo eval``: test the run folder's best checkpoint again; see ``zoo_classify.inference.evaluate_run``."""
        return evaluate_run(run, self.options)

    def best_model(self, run: Any) -> BestModel:
        """``zoo predict`` and ``zoo export``: the best model and its card; see ``zoo_classify.inference.best_model``."""
        return best_model(run, self.options)

    def headline(self, report: dict) -> str:
        """``test accuracy 98.89%, test loss 0.0312, best epoch 7`` (the parts the report has)."""
        parts = []
        test = report.get("test") or {}
        if "accuracy" in test:
            parts.append(f"test accuracy {test['accuracy']:.2%}")
        if "loss" in test:
            parts.append(f"test loss {test['loss']:.4f}")
        best = report.get("best") or {}
        if best.get("epoch") is not None:
            parts.append(f"best epoch {best['epoch']}")
        return ", ".join(parts)


    def report_sections(self, folder: Path, report: dict) -> list:
        """report.html: the test figures, the per-class table and the pictures; see ``zoo_classify.report``."""
        return report_sections(folder, report)


TASK_DOC = """Train a classifier, keep the best checkpoint by validation loss, test it per class.

Modules of the model whose parameters are all frozen (the model's ``freeze``) stay in eval mode
while the rest trains: their BatchNorm statistics don't move and their dropout is off. So the
head trains the same whether the frozen backbone runs every step or its features are computed
once (``feature_cache``), and the backbone saved in the checkpoints is the one loaded.

Options:
"""


def classification(**options: Any) -> ClassificationTask:
    return ClassificationTask(ClassificationOptions(**options))


# the options model is the schema: recipe validation and `zoo info` read this signature
classification.__signature__ = inspect.signature(ClassificationOptions).replace(
    return_annotation=ClassificationTask)
classification.__doc__ = TASK_DOC + textwrap.indent(options_help(), "  ")

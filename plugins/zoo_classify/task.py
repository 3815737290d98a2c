"""The classification task: the seeds' train / validate / keep-the-best / test-per-class loop.

Behaviour matches the hand-written loop of the seeds where the recipe matches it:
``model.train()`` while training and ``model.eval()`` with no gradients while evaluating,
losses averaged per sample, the best checkpoint replaced when the validation loss is lower or
equal ("validation loss decreased (a --> b), saving"), and after training the best checkpoint
is reloaded and tested with a per-class table.
"""

from __future__ import annotations

import inspect
import math
import textwrap
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from zoo.errors import RunFailure, UserError
from zoo_classify.options import ClassificationOptions, options_help
from zoo_classify.rounds import ValidationRounds
from zoo_classify.training_loss import TrainingLoss


@dataclass
class Training:
    """What a classification run trains with (``ClassificationTask.setup`` builds it).

    ``model`` is the model whose weights are saved; ``step_model`` computes the steps and the
    validation (the model, its ``torch.compile`` form, or only its head when the frozen
    backbone's features are cached); ``train_model`` is ``step_model`` as trained (wrapped in
    DistributedDataParallel under torchrun). ``train``/``valid`` are ``Batches``.
    """

    task: "ClassificationTask"
    run: Any
    data: dict
    model: Any
    step_model: Any
    train_model: Any
    criterion: Any
    optimizer: Any
    precision: Any
    train: Any
    valid: Any
    scheduler: Any = None
    scheduler_step: str = "epoch"  # when the scheduler steps: "epoch", "batch" or "plateau"

    def train_epoch(self, epoch: int, after_step: Optional[Callable] = None) -> float:
        """Train one epoch (``epoch`` counts from 1 and seeds its batch order); return the mean
        training loss per sample. ``after_step(step, losses)`` is called after each step
        (``step`` counts from 1 in the epoch; ``losses`` a ``TrainingLoss`` with the epoch so
        far). Raises ``zoo.RunFailure`` for a NaN/infinite loss under ``nan_policy: stop``."""
        batch_scheduler = self.scheduler if self.scheduler_step == "batch" else None
        return self.task._train_epoch(self.run, self.train_model, self.criterion, self.optimizer, self.precision,
                                      self.train, epoch, batch_scheduler, after_step)

    def validate(self) -> tuple:
        """``(mean loss per sample, accuracy, K×K confusion matrix)`` on the validation split."""
        return evaluate(self.step_model, self.criterion, self.valid, self.data["num_classes"], self.precision)


TASK_DOC = """Train a classifier, keep the best checkpoint by validation loss, test it per class.

Options:
"""


def classification(**options: Any) -> "ClassificationTask":
    return ClassificationTask(ClassificationOptions(**options))


# the options model is the schema: recipe validation and `zoo info` read this signature
classification.__signature__ = inspect.signature(ClassificationOptions).replace(
    return_annotation="ClassificationTask")
classification.__doc__ = TASK_DOC + textwrap.indent(options_help(), "  ")


class ClassificationTask:
    """See the module docstring; ``run(run)`` returns the report written as report.json."""

    def __init__(self, options: ClassificationOptions):
        self.options = options

    # -- setup ---------------------------------------------------------------------------

    def _data(self, run: Any) -> dict:
        from zoo.data import split_indices

        from zoo_classify.batches import eval_view, labels_of, sample_shape, split_off

        splits = run.build("data")
        train, valid, test = splits.train, splits.valid, splits.test
        if valid is None:
            kept, held = split_indices(labels_of(train), self.options.valid_fraction, seed=run.seed)
            train, valid = split_off(train, held, kept)
        if len(train) == 0:
            raise UserError(f"{run.recipe.where(('data',))}: the training split is empty")
        shape = sample_shape(train)
        classes = list(splits.classes) if splits.classes is not None else None
        train_labels = labels_of(train)
        num_classes = len(classes) if classes else int(train_labels.max()) + 1
        classes = classes or [str(i) for i in range(num_classes)]
        return {"train": train, "valid": eval_view(valid), "test": eval_view(test) if test is not None else None,
                "classes": classes, "num_classes": num_classes, "shape": shape, "train_labels": train_labels,
                "info": splits.info}

    def _model(self, run: Any, data: dict) -> Any:
        c, h, w = data["shape"]
        fill = {"num_classes": data["num_classes"], "in_channels": c, "image_size": h if h == w else [h, w]}
        return run.build("model", fill=fill)

    def _check_labels(self, run: Any, data: dict) -> None:
        from zoo_classify.batches import labels_of

        k = data["num_classes"]
        for split in ("train", "valid", "test"):
            dataset = data[split]
            if dataset is None or len(dataset) == 0:
                continue
            labels = data["train_labels"] if split == "train" else labels_of(dataset)
            bad = labels[(labels < 0) | (labels >= k)]
            if bad.numel():
                raise UserError(f"{run.recipe.where(('data',))}: the {split} split has label {int(bad[0])}, "
                                f"outside 0..{k - 1} for {k} classes")

    def _dry_forward(self, run: Any, model: Any, data: dict) -> None:
        """One batch through the model before training, so a mismatch fails at once and clearly."""
        import torch

        from zoo_classify.batches import first_batch

        x, _ = first_batch(data["train"], min(self.options.batch_size, 4))
        model_name = run.section("model").get("name")
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(x.to(run.device))
        except Exception as exc:
            raise UserError(f"{run.recipe.where(('model',))}: model {model_name!r} cannot take the data's "
                            f"{'x'.join(map(str, x.shape[1:]))} images: {type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:200]}") from None
        finally:
            model.train(was_training)
        k = data["num_classes"]
        if out.dim() != 2 or out.shape[1] != k:
            raise UserError(f"{run.recipe.where(('model',))}: model {model_name!r} gives outputs of shape "
                            f"{tuple(out.shape)} but the data has {k} classes (expected (batch, {k}))")

    def check(self, run: Any) -> None:
        """``zoo run --dry-run``: build everything training takes and push one batch through the model."""
        self.setup(run)

    # -- the run -------------------------------------------------------------------------

    def setup(self, run: Any) -> "Training":
        """Build what training takes, as ``run`` does before its first epoch: the data and its
        splits, the model (checked with one batch), the loss, the optimizer, the scheduler, the
        batches and the precision. Returns a ``Training``, whose ``train_epoch(n)`` and
        ``validate()`` are an epoch of ``run`` (no checkpoint, log line or hook). Raises
        ``zoo.UserError`` for data and a model that don't fit each other.
        """
        import torch

        from zoo_classify.batches import Batches
        from zoo_classify.precision import Precision

        o = self.options
        data = self._data(run)
        self._check_labels(run, data)
        model = self._model(run, data).to(run.device)
        self._dry_forward(run, model, data)
        if o.channels_last:
            model = model.to(memory_format=torch.channels_last)
        criterion = run.build("loss")
        optimizer = run.build_optimizer(model)
        shard = {"rank": run.rank, "world_size": run.world_size}  # this process's part under torchrun
        train = Batches(data["train"], batch_size=o.batch_size, device=run.device, train=True, seed=run.seed,
                        num_workers=o.num_workers, drop_singleton=True, data_on_device=o.data_on_device, **shard)
        eval_size = o.evaluation_batch_size
        valid = Batches(data["valid"], batch_size=eval_size, device=run.device, train=False,
                        num_workers=o.num_workers, data_on_device=o.data_on_device, **shard)
        scheduler, scheduler_step = None, "epoch"
        if run.has_section("scheduler"):
            scheduler = run.build("scheduler", optimizer, fill={"epochs": o.epochs, "steps_per_epoch": len(train)})
            entry = run.registries.schedulers.get(run.section("scheduler")["name"])
            scheduler_step = entry.metadata.get("step", "epoch")
        step_model = torch.compile(model, backend=o.compile_backend) if o.compile else model
        return Training(task=self, run=run, data=data, model=model, step_model=step_model, train_model=step_model,
                        criterion=criterion, optimizer=optimizer, precision=Precision(o.amp, run.device),
                        train=train, valid=valid, scheduler=scheduler, scheduler_step=scheduler_step)

    def run(self, run: Any) -> dict:
        from zoo import distributed
        from zoo.run import rng_state, set_rng_state

        o = self.options
        t = self.setup(run)
        data, model, optimizer, scheduler, precision = t.data, t.model, t.optimizer, t.scheduler, t.precision
        state = {"epoch": 0, "best_valid_loss": math.inf, "best_epoch": None, "best_step": None, "history": [],
                 "bad_epochs": 0}
        if run.resumed:
            saved = run.load_checkpoint("last.pt")
            restore_training(run, model, optimizer, saved)
            if scheduler is not None and saved.get("scheduler") is not None:
                scheduler.load_state_dict(saved["scheduler"])
            if saved.get("scaler") is not None:
                precision.load_state_dict(saved["scaler"])
            state = {k: saved.get(k, state[k]) for k in state}
            set_rng_state(saved["rng"])
            run.log(f"resuming {run.directory} after epoch {state['epoch']}")
        self._describe(run, data, model, t.train)
        if run.world_size > 1:
            run.log(f"{run.world_size} processes ({distributed.backend_for(run.device)}): {o.batch_size} samples "
                    f"per process and step, {o.batch_size * run.world_size} in all; {len(t.train)} steps per epoch")
        started = time.perf_counter()
        t.step_model, t.train, t.valid = self._feature_cache(run, model, data, precision, t.step_model,
                                                             t.train, t.valid)
        t.train_model = distributed.wrap(t.step_model, run.device)  # DistributedDataParallel under torchrun

        rounds = ValidationRounds(run, t, state, epochs=o.epochs, valid_every=o.valid_every,
                                  non_finite_training=self._non_finite_training,
                                  non_finite_validation=self._non_finite_validation)
        for epoch in range(state["epoch"] + 1, o.epochs + 1):
            rounds.start_epoch(epoch, started)
            train_loss = t.train_epoch(epoch, after_step=rounds.after_step if o.valid_every else None)
            valid_loss = rounds.validate(len(t.train), train_loss)
            if scheduler is not None and t.scheduler_step == "plateau":
                scheduler.step(valid_loss)
            elif scheduler is not None and t.scheduler_step == "epoch":
                scheduler.step()
            # patience counts epochs: one without a better validation loss in any of its rounds is bad
            state["bad_epochs"] = 0 if state["best_epoch"] == epoch else state["bad_epochs"] + 1
            state["epoch"] = epoch
            rounds.save_best()  # best.pt, then last.pt: a resume never finds a best its state doesn't know
            run.save_checkpoint("last.pt", {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "scaler": precision.state_dict(), "rng": rng_state(), **state,
            })
            rounds.report()
            started = None
            if o.patience is not None and state["bad_epochs"] >= o.patience:
                run.log(f"early stop: no better validation loss for {o.patience} epochs")
                break
        return self._test(run, model, t.criterion, data, precision, state)

    def _feature_cache(self, run, model, data, precision, step_model, train, valid) -> tuple:
        """With a frozen backbone and fixed training images, train the head on features computed once.

        Returns ``(model to train, training batches, validation batches)``: the head and the
        stored features, or what it was given when the cache can't be used (and says why).
        """
        from zoo_classify.batches import Batches, first_batch, is_random
        from zoo_classify.features import extract, frozen_head, same_output

        head = frozen_head(model)
        if head is None:
            return step_model, train, valid
        if is_random(data["train"]):
            run.log("frozen backbone, but the training images are randomly augmented, so the backbone "
                    "runs every step (remove data.augment to compute its features once)")
            return step_model, train, valid
        probe, _ = first_batch(data["train"], 2)
        if not same_output(model, head, probe.to(run.device)):
            run.log(f"frozen backbone, but head {head!r} is not simply applied to the backbone's output "
                    f"in this model, so the backbone runs every step")
            return step_model, train, valid
        o = self.options
        started = time.perf_counter()
        # every process computes all the features (the same numbers), then trains on its shard of them
        once = dict(batch_size=o.evaluation_batch_size, device=run.device, train=False,
                    num_workers=o.num_workers, data_on_device=o.data_on_device)
        train_features = extract(model, head, Batches(train.dataset, **once), precision)
        valid_features = extract(model, head, Batches(valid.dataset, **once), precision)
        run.log(f"frozen backbone: features of {len(train_features)} training and {len(valid_features)} "
                f"validation images computed once ({time.perf_counter() - started:.1f} s); "
                f"training the head {head!r} on them")
        head_module = model.get_submodule(head)
        return (head_module,
                Batches(train_features, batch_size=o.batch_size, device=run.device, train=True, seed=run.seed,
                        drop_singleton=True, data_on_device=o.data_on_device, rank=run.rank,
                        world_size=run.world_size),
                Batches(valid_features, batch_size=once["batch_size"], device=run.device, train=False,
                        data_on_device=o.data_on_device, rank=run.rank, world_size=run.world_size))

    def _describe(self, run: Any, data: dict, model: Any, train: Any) -> None:
        c, h, w = data["shape"]
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        run.log(f"{run.name}: {len(data['train'])} train / {len(data['valid'])} valid / "
                f"{len(data['test']) if data['test'] is not None else 0} test samples, {c}x{h}x{w}, "
                f"{data['num_classes']} classes; {trainable:,} of {total:,} parameters trained on {run.device}")

    def _step(self, model, criterion, optimizer, precision, x, y):
        """One optimisation step on the batch ``(x, y)``; returns the batch's loss.

        Optimizers that re-evaluate the loss (L-BFGS) get it as a closure.
        """
        import torch

        def closure():
            optimizer.zero_grad(set_to_none=True)
            with precision.autocast():
                loss = criterion(model(x), y)
            precision.backward(loss)
            if self.options.clip_grad_norm is not None:
                precision.unscale(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), self.options.clip_grad_norm)
            return loss

        if isinstance(optimizer, torch.optim.LBFGS):
            from zoo import distributed

            if precision.scaler is not None:
                raise UserError("task.amp: fp16 gradient scaling does not work with lbfgs; use bf16 or off")
            if distributed.is_active():
                raise UserError("optimizer.name: lbfgs's line search can't run across torchrun processes; "
                                "use it in a single process, or choose sgd/adam")
            first = []
            optimizer.step(lambda: first.append(closure()) or first[-1])
            return first[0]
        loss = closure()
        if self.options.nan_policy == "skip" and not finite_everywhere(loss):
            optimizer.zero_grad(set_to_none=True)  # leave this batch out: no update
            return loss
        precision.step(optimizer)
        return loss

    def _train_epoch(self, run, model, criterion, optimizer, precision, batches, epoch, batch_scheduler,
                     after_step=None) -> float:
        import torch

        model.train()
        losses = TrainingLoss(self.options.nan_policy, run.device, single_process=batches.world_size == 1)
        batch_list = progress(run, batches.epoch(epoch), total=len(batches), label=f"epoch {epoch}/{self.options.epochs}")
        for step, (x, y) in enumerate(batch_list, start=1):
            if self.options.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            loss = self._step(model, criterion, optimizer, precision, x, y)
            if batch_scheduler is not None:
                batch_scheduler.step()
            # a skipped batch (nan_policy skip) is no update and not in the mean;
            # nan_policy stop: a bad loss is seen at once on the CPU, every few steps elsewhere
            if losses.add(loss, x.shape[0]) and losses.failed():
                break
            if after_step is not None:  # every process calls it at the same step (validation rounds)
                after_step(step, losses)
        if batches.world_size == 1 and losses.first_bad is not None:
            raise RunFailure(self._non_finite_training(run, epoch, losses, len(batches)))
        if losses.skipped:
            run.log(f"epoch {epoch}: left out {losses.skipped} of {len(batches)} batches whose loss was not finite")
        if batches.world_size > 1:  # the mean over every process's samples, the same on each
            from zoo.distributed import all_reduce_sum

            total = losses.sum_tensor(run.device)
            counted = torch.tensor(losses.seen, device=run.device)
            all_reduce_sum(total, counted)
            seen = int(counted)
            train_loss = float(total) / max(seen, 1)
        else:
            seen, train_loss = losses.seen, losses.mean
        if losses.skipped and not seen:  # every batch left out (under torchrun: on every process)
            raise RunFailure(self._non_finite_training(run, epoch, losses, len(batches)))
        if not math.isfinite(train_loss):  # under torchrun: another process's batch (the sum is shared)
            raise RunFailure(self._non_finite_training(run, epoch, losses, len(batches), value=train_loss))
        return train_loss

    def _non_finite_training(self, run: Any, epoch: int, health: "TrainingLoss", steps: int,
                             value: Optional[float] = None) -> str:
        """The one-line error for a training loss that is NaN or infinite."""
        if health.skipped and health.first_bad is None:
            return (f"every batch of epoch {epoch} gave a non-finite training loss ({health.skipped} left out); "
                    f"{last_good_checkpoint(run)}; lower optimizer.lr or set task.clip_grad_norm")
        where = f"step {health.first_bad} of {steps}" if health.first_bad is not None else "a step of another process"
        shown = health.bad_value if health.bad_value is not None else value
        return (f"the training loss is {shown} at epoch {epoch}, {where}; {last_good_checkpoint(run)}; "
                f"lower optimizer.lr, set task.clip_grad_norm, or set task.nan_policy: skip to leave such batches out")

    def _non_finite_validation(self, run: Any, epoch: int, valid_loss: float) -> None:
        """A NaN/infinite validation loss: never the best; stops the run unless nan_policy is skip."""
        what = (f"the validation loss is {valid_loss} in epoch {epoch} (NaN or infinite values in the model's "
                f"outputs or the validation data): not taken as the best")
        if self.options.nan_policy == "skip":
            run.log(f"warning: {what}")
            return
        raise RunFailure(f"{what}; {last_good_checkpoint(run)}; set task.nan_policy: skip to train on regardless")

    def _test(self, run, model, criterion, data, precision, state) -> dict:
        from zoo_classify.batches import Batches
        from zoo_classify.inference import log_test_table, test_report

        report = {"best": {"epoch": state["best_epoch"],
                           "valid_loss": _finite_or_none(state["best_valid_loss"]),
                           "checkpoint": str(run.checkpoint_dir / "best.pt") if run.checkpoint_dir else None},
                  "epochs_run": state["epoch"], "classes": data["classes"]}
        if state.get("best_step") is not None:  # task.valid_every: the round's step, counted over the run
            report["best"]["step"] = state["best_step"]
        if state["best_epoch"] is not None and run.checkpoint_dir is not None:
            model.load_state_dict(run.load_checkpoint("best.pt")["model"])
        if run.world_size > 1 and state["best_epoch"] is not None:  # rank 0 read best.pt: give it to all
            from zoo.distributed import broadcast_module

            broadcast_module(model)
        if data["test"] is None or len(data["test"]) == 0:
            run.log("no test split: skipping the test")
            return report
        test = Batches(data["test"], batch_size=self.options.evaluation_batch_size,
                       device=run.device, train=False, num_workers=self.options.num_workers,
                       data_on_device=self.options.data_on_device, rank=run.rank, world_size=run.world_size)
        loss, accuracy, confusion = evaluate(model, criterion, test, data["num_classes"], precision)
        report["test"] = test_report(loss, accuracy, confusion, data["classes"])
        log_test_table(run, report["test"])
        if self.options.plots and run.directory is not None:
            report["pictures"] = self._pictures(run, model, data, confusion, state["history"])
        return report

    def _pictures(self, run, model, data, confusion, history) -> list:
        try:
            from zoo_classify import plots
        except ImportError:
            return []
        import torch

        from zoo_classify.batches import first_batch

        written = [plots.plot_curves(history, run.directory / "curves.png"),
                   plots.plot_confusion_matrix(confusion, data["classes"], run.directory / "confusion_matrix.png")]
        if self.options.grid_size:
            x, y = first_batch(data["test"], self.options.grid_size)
            model.eval()
            with torch.no_grad():
                predicted = model(x.to(run.device)).argmax(1).cpu()
            normalize = (data.get("info") or {}).get("normalize") or {}
            written.append(plots.plot_prediction_grid(
                x.cpu(), predicted.tolist(), y.tolist(), data["classes"], run.directory / "predictions.png",
                mean=normalize.get("mean"), std=normalize.get("std")))
        return [p.name for p in written]

    # -- a finished run, used again (zoo eval, zoo predict) --------------------------------

    def evaluate(self, run: Any) -> dict:
        """``zoo eval``: test the run folder's best checkpoint again; see ``zoo_classify.inference.evaluate_run``."""
        from zoo_classify.inference import evaluate_run

        return evaluate_run(self, run)

    def predict(self, run: Any, paths: list, top_k: int) -> list:
        """``zoo predict``: top-k classes of image files; see ``zoo_classify.inference.predict_images``."""
        from zoo_classify.inference import predict_images

        return predict_images(self, run, paths, top_k)


def progress(run: Any, iterable: Any, *, total: int, label: str) -> Any:
    """A tqdm bar on a terminal (main process only); the plain iterable otherwise (logs, CI, files)."""
    import sys

    if not run.is_main or run.quiet or not sys.stderr.isatty():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=label, leave=False, unit="batch", dynamic_ncols=True)


def evaluate(model, criterion, batches, num_classes: int, precision) -> tuple:
    """``(mean loss per sample, accuracy, confusion matrix K×K)`` over ``batches``, without gradients.

    When ``batches`` is one process's shard (torchrun), the loss sum, the count and the
    confusion matrix are added up over the processes first: every process returns the figures
    of the whole split, exactly as one process would. ``model`` must not be the DDP wrapper.
    """
    import torch

    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=batches.device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=batches.device)
    seen = 0
    with torch.no_grad():
        for x, y in batches.epoch(0):
            with precision.autocast():
                output = model(x)
                loss = criterion(output, y)
            total += loss.double() * x.shape[0]
            confusion += torch.bincount(y * num_classes + output.argmax(1), minlength=num_classes ** 2)
            seen += x.shape[0]
    if getattr(batches, "world_size", 1) > 1:
        from zoo.distributed import all_reduce_sum

        counted = torch.tensor(seen, device=confusion.device)
        all_reduce_sum(total, confusion, counted)
        seen = int(counted)
    confusion = confusion.view(num_classes, num_classes).cpu()
    if seen == 0:
        return math.nan, math.nan, confusion
    return float(total) / seen, int(confusion.trace()) / seen, confusion


def last_good_checkpoint(run: Any) -> str:
    """``last good checkpoint: DIR/checkpoints/last.pt (epoch N)``, or ``... none yet``."""
    from zoo.checkpoints import saved_epoch

    folder = run.checkpoint_dir
    epoch = saved_epoch(folder / "last.pt") if folder is not None else None
    if epoch is None:
        return "last good checkpoint: none yet"
    return f"last good checkpoint: {folder / 'last.pt'} (epoch {epoch}; continue with: zoo run --resume {run.directory})"


def finite_everywhere(loss: Any) -> bool:
    """Whether ``loss`` is finite in every process (one sync; all processes agree, so none hangs)."""
    import torch

    from zoo import distributed

    return not distributed.any_process((~torch.isfinite(loss.detach().float())).float().reshape(()))


def restore_training(run: Any, model: Any, optimizer: Any, saved: dict) -> None:
    """Load a resumed run's ``last.pt`` model and optimizer states; a checkpoint that does not fit the
    recipe as it is now (another model, another optimizer) is a ``zoo.UserError`` naming both."""
    path = f"--resume {run.directory if run.directory is not None else run.shared_directory}: checkpoints/last.pt"
    if not isinstance(saved.get("model"), dict) or not isinstance(saved.get("optimizer"), dict):
        raise UserError(f"{path} is not a classification checkpoint (no model and optimizer states in it)")
    try:
        model.load_state_dict(saved["model"])
    except (RuntimeError, KeyError, ValueError):
        from zoo.checkpoints import mismatch

        raise UserError(f"{path} does not fit model {run.section('model').get('name')!r} as "
                        f"{run.recipe.where(('model',))} builds it now ({mismatch(model.state_dict(), saved['model'])}); "
                        f"resume with the recipe it was saved with") from None
    from_recipe = [dict(group) for group in optimizer.param_groups]  # as this resume's recipe sets them
    try:
        optimizer.load_state_dict(saved["optimizer"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise UserError(f"{path} does not fit optimizer {run.section('optimizer').get('name')!r} as "
                        f"{run.recipe.where(('optimizer',))} builds it now: {' '.join(str(exc).split())[:300]}") from None
    # the checkpoint brings the rates the run had reached; a value set on this resume's command
    # line (optimizer.lr=0.001 after a divergence) is what the user asked for from now on
    for key in from_recipe[0]:
        if key == "params" or not run.recipe.set_on_command_line(("optimizer", key)):
            continue
        saved_value = optimizer.param_groups[0].get(key)
        for group, fresh in zip(optimizer.param_groups, from_recipe):
            group[key] = fresh[key]
        if saved_value != from_recipe[0][key]:
            run.log(f"resumed with optimizer.{key} = {from_recipe[0][key]} (the checkpoint had {saved_value})")


def _finite_or_none(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None

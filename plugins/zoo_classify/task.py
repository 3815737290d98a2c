"""The classification task: the seeds' train / validate / keep-the-best / test-per-class loop.

Behaviour matches the hand-written loop of the seeds where the recipe matches it:
``model.train()`` while training and ``model.eval()`` with no gradients while evaluating,
losses averaged per sample, the best checkpoint replaced when the validation loss is lower or
equal ("validation loss decreased (a --> b), saving"), and after training the best checkpoint
is reloaded and tested with a per-class table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

from annotated_types import Ge, Gt, Lt

from zoo.errors import RunFailure, UserError


@dataclass
class Options:
    epochs: int = 10
    batch_size: int = 64
    eval_batch_size: Optional[int] = None
    valid_fraction: float = 0.2
    device: str = "auto"
    patience: Optional[int] = None
    num_workers: int = 0
    amp: str = "off"
    channels_last: bool = False
    compile: bool = False
    compile_backend: str = "inductor"
    data_on_device: str = "auto"
    clip_grad_norm: Optional[float] = None
    grid_size: int = 20
    plots: bool = True


def classification(
    epochs: Annotated[int, Gt(0)] = 10,
    batch_size: Annotated[int, Gt(0)] = 64,
    eval_batch_size: Optional[Annotated[int, Gt(0)]] = None,
    valid_fraction: Annotated[float, Gt(0), Lt(1)] = 0.2,
    device: str = "auto",
    patience: Optional[Annotated[int, Gt(0)]] = None,
    num_workers: Annotated[int, Ge(0)] = 0,
    amp: Literal["off", "bf16", "fp16"] = "off",
    channels_last: bool = False,
    compile: bool = False,
    compile_backend: str = "inductor",
    data_on_device: Literal["auto", "always", "never"] = "auto",
    clip_grad_norm: Optional[Annotated[float, Gt(0)]] = None,
    grid_size: Annotated[int, Ge(0)] = 20,
    plots: bool = True,
) -> "ClassificationTask":
    """Train a classifier, keep the best checkpoint by validation loss, test it per class.

    epochs: passes over the training data. batch_size: samples per training step.
    eval_batch_size: samples per evaluation batch (default 4x batch_size).
    valid_fraction: share of the training data held out for validation when the dataset has
    no validation split of its own (seeded, stratified). device: auto (CUDA, MPS, CPU) or a
    device name. patience: stop after this many epochs without a better validation loss.
    num_workers: DataLoader workers for datasets read item by item. amp: mixed precision
    (bf16 or fp16; fp16 uses a gradient scaler on CUDA). channels_last: NHWC memory format for
    convolutions. compile: torch.compile the model (compile_backend: its backend).
    data_on_device: keep in-memory datasets on the GPU (auto: when they take under a quarter
    of its free memory). clip_grad_norm: clip the gradients' norm to this value.
    grid_size: test images in the prediction grid. plots: draw the pictures.
    """
    return ClassificationTask(Options(**{k: v for k, v in locals().items()}))


class ClassificationTask:
    """See the module docstring; ``run(run)`` returns the report written as report.json."""

    def __init__(self, options: Options):
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
        """``zoo run --dry-run``: build data, model, loss and optimizer and push one batch through."""
        data = self._data(run)
        self._check_labels(run, data)
        model = self._model(run, data).to(run.device)
        self._dry_forward(run, model, data)
        run.build("loss")
        optimizer = run.build_optimizer(model)
        if run.has_section("scheduler"):
            run.build("scheduler", optimizer, fill={"epochs": self.options.epochs, "steps_per_epoch": 1})

    # -- the run -------------------------------------------------------------------------

    def run(self, run: Any) -> dict:
        import torch

        from zoo.run import rng_state, set_rng_state
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
        train = Batches(data["train"], batch_size=o.batch_size, device=run.device, train=True, seed=run.seed,
                        num_workers=o.num_workers, drop_singleton=True, data_on_device=o.data_on_device)
        eval_size = o.eval_batch_size or 4 * o.batch_size
        valid = Batches(data["valid"], batch_size=eval_size, device=run.device, train=False,
                        num_workers=o.num_workers, data_on_device=o.data_on_device)
        scheduler, scheduler_step = None, "epoch"
        if run.has_section("scheduler"):
            scheduler = run.build("scheduler", optimizer, fill={"epochs": o.epochs, "steps_per_epoch": len(train)})
            entry = run.registries.schedulers.get(run.section("scheduler")["name"])
            scheduler_step = entry.metadata.get("step", "epoch")
        precision = Precision(o.amp, run.device)
        step_model = torch.compile(model, backend=o.compile_backend) if o.compile else model

        state = {"epoch": 0, "best_valid_loss": math.inf, "best_epoch": None, "history": [], "bad_epochs": 0}
        if run.resumed:
            saved = run.load_checkpoint("last.pt")
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            if scheduler is not None and saved.get("scheduler") is not None:
                scheduler.load_state_dict(saved["scheduler"])
            if saved.get("scaler") is not None:
                precision.load_state_dict(saved["scaler"])
            state = {k: saved[k] for k in state}
            set_rng_state(saved["rng"])
            run.log(f"resuming {run.directory} after epoch {state['epoch']}")
        self._describe(run, data, model, train)
        started = time.perf_counter()
        step_model, train, valid = self._feature_cache(run, model, data, precision, step_model, train, valid)

        for epoch in range(state["epoch"] + 1, o.epochs + 1):
            started = started or time.perf_counter()
            train_loss = self._train_epoch(run, step_model, criterion, optimizer, precision, train, epoch,
                                           scheduler if scheduler_step == "batch" else None)
            valid_loss, valid_accuracy, _ = evaluate(step_model, criterion, valid, data["num_classes"], precision)
            if scheduler is not None and scheduler_step == "plateau":
                scheduler.step(valid_loss)
            elif scheduler is not None and scheduler_step == "epoch":
                scheduler.step()
            metrics = {"train_loss": train_loss, "valid_loss": valid_loss, "valid_accuracy": valid_accuracy,
                       "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - started}
            state["history"].append(dict(metrics, epoch=epoch))
            run.log(f"epoch {epoch}/{o.epochs}  train loss {train_loss:.6f}  valid loss {valid_loss:.6f}  "
                    f"valid accuracy {valid_accuracy:.2%}  ({metrics['seconds']:.1f} s)")
            if valid_loss <= state["best_valid_loss"]:  # False for NaN: a NaN is never the best
                run.log(f"validation loss decreased ({state['best_valid_loss']:.6f} --> {valid_loss:.6f}), saving")
                run.save_checkpoint("best.pt", {"model": model.state_dict(), "epoch": epoch,
                                                "valid_loss": valid_loss, "classes": data["classes"]})
                state.update(best_valid_loss=valid_loss, best_epoch=epoch, bad_epochs=0)
            else:
                state["bad_epochs"] += 1
            state["epoch"] = epoch
            run.save_checkpoint("last.pt", {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "scaler": precision.state_dict(), "rng": rng_state(), **state,
            })
            run.epoch_end(epoch, metrics)
            started = None
            if o.patience is not None and state["bad_epochs"] >= o.patience:
                run.log(f"early stop: no better validation loss for {o.patience} epochs")
                break
        return self._test(run, model, criterion, data, precision, state)

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
        once = dict(batch_size=o.eval_batch_size or 4 * o.batch_size, device=run.device, train=False,
                    num_workers=o.num_workers, data_on_device=o.data_on_device)
        train_features = extract(model, head, Batches(train.dataset, **once), precision)
        valid_features = extract(model, head, Batches(valid.dataset, **once), precision)
        run.log(f"frozen backbone: features of {len(train_features)} training and {len(valid_features)} "
                f"validation images computed once ({time.perf_counter() - started:.1f} s); "
                f"training the head {head!r} on them")
        head_module = model.get_submodule(head)
        return (head_module,
                Batches(train_features, batch_size=o.batch_size, device=run.device, train=True, seed=run.seed,
                        drop_singleton=True, data_on_device=o.data_on_device),
                Batches(valid_features, batch_size=once["batch_size"], device=run.device, train=False,
                        data_on_device=o.data_on_device))

    def _describe(self, run: Any, data: dict, model: Any, train: Any) -> None:
        c, h, w = data["shape"]
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        run.log(f"{run.name}: {len(data['train'])} train / {len(data['valid'])} valid / "
                f"{len(data['test']) if data['test'] is not None else 0} test samples, {c}x{h}x{w}, "
                f"{data['num_classes']} classes; {trainable:,} of {total:,} parameters trained on {run.device}")

    def _train_epoch(self, run, model, criterion, optimizer, precision, batches, epoch, batch_scheduler) -> float:
        import torch

        model.train()
        total = torch.zeros((), device=run.device)
        seen = 0
        for x, y in progress(run, batches.epoch(epoch), total=len(batches), label=f"epoch {epoch}/{self.options.epochs}"):
            if self.options.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad(set_to_none=True)
            with precision.autocast():
                output = model(x)
                loss = criterion(output, y)
            precision.backward(loss)
            if self.options.clip_grad_norm is not None:
                precision.unscale(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), self.options.clip_grad_norm)
            precision.step(optimizer)
            if batch_scheduler is not None:
                batch_scheduler.step()
            total += loss.detach().float() * x.shape[0]
            seen += x.shape[0]
        train_loss = float(total) / max(seen, 1)
        if not math.isfinite(train_loss):
            last = run.checkpoint_dir / "last.pt" if run.checkpoint_dir and (run.checkpoint_dir / "last.pt").exists() else None
            raise RunFailure(f"the training loss became {train_loss} in epoch {epoch}; "
                             f"last good checkpoint: {last or 'none yet'} (lower optimizer.lr, or task.clip_grad_norm)")
        return train_loss

    def _test(self, run, model, criterion, data, precision, state) -> dict:
        from zoo_classify.batches import Batches
        from zoo_classify.inference import log_test_table, test_report

        report = {"best": {"epoch": state["best_epoch"],
                           "valid_loss": _finite_or_none(state["best_valid_loss"]),
                           "checkpoint": str(run.checkpoint_dir / "best.pt") if run.checkpoint_dir else None},
                  "epochs_run": state["epoch"], "classes": data["classes"]}
        if state["best_epoch"] is not None and run.checkpoint_dir is not None:
            model.load_state_dict(run.load_checkpoint("best.pt")["model"])
        if data["test"] is None or len(data["test"]) == 0:
            run.log("no test split: skipping the test")
            return report
        test = Batches(data["test"], batch_size=self.options.eval_batch_size or 4 * self.options.batch_size,
                       device=run.device, train=False, num_workers=self.options.num_workers,
                       data_on_device=self.options.data_on_device)
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
    """``(mean loss per sample, accuracy, confusion matrix K×K)`` over ``batches``, without gradients."""
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
    confusion = confusion.view(num_classes, num_classes).cpu()
    if seen == 0:
        return math.nan, math.nan, confusion
    return float(total) / seen, int(confusion.trace()) / seen, confusion


def _finite_or_none(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None

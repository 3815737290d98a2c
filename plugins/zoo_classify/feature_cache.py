"""Whether a run trains its head on the frozen backbone's features computed once, where those
features come from (the on-disk feature cache, or the backbone now), and the batches the head
then trains on (see ``zoo_classify.features`` for how the features are computed).

With ``task.feature_cache: auto`` the features of each split are kept in the zoo cache folder
(``zoo.toolkit.FeatureStore``), keyed by everything that decides them: the backbone's
architecture and weights (the head excluded), the split's images (``content_digest``: files,
order, labels, preprocessing), the precision and memory format, the device type and torch's
version. A later run, or a sweep's next trial, with the same backbone and data reads them and
runs the backbone on nothing; a resumed run reads the very features it trained on.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional

import torch

from zoo.toolkit import FeatureStore, digest
from zoo_classify.batches import Batches, first_batch, is_random, labels_of
from zoo_classify.features import (FeatureDataset, extract, fastest, feature_batch_size, frozen_head, headless,
                                   same_output)
from zoo_classify.precision import feature_formats, format_named

if TYPE_CHECKING:
    from zoo_classify.trainer import Trainer

#: Part of every key: bump it when what an entry holds changes meaning.
KEY_VERSION = "zoo_classify.features/1"
NAMES = {"train": "training", "valid": "validation"}
HOW = {"read": "read from the feature cache", "computed": "computed once"}


def cached_head(trainer: "Trainer") -> Optional[tuple]:
    """With a frozen backbone and fixed training images, the backbone's features computed once
    (or read from the feature cache): ``(the head module, training batches, validation
    batches)`` of the features, to give to ``Trainer.train_on``. None when the features can't
    be used (the log says why, where a user would wonder) or ``task.feature_cache`` is off.
    """
    run, o, model, data = trainer.run, trainer.options, trainer.model, trainer.data
    head = frozen_head(model)
    if head is None or o.feature_cache == "off":
        return None
    if is_random(data.train):
        run.log("frozen backbone, but the training images are randomly augmented, so the backbone "
                "runs every step (remove data.augment to compute its features once)")
        return None
    probe, _ = first_batch(data.train, 1)
    if not same_output(model, head, probe.to(run.device)):
        run.log(f"frozen backbone, but head {head!r} is not simply applied to the backbone's output "
                f"in this model, so the backbone runs every step")
        return None
    started = time.perf_counter()
    source = FeatureSource(trainer, head, FeatureStore() if o.feature_cache == "auto" else None)
    fmt, why = source.choose(feature_formats(o, run.device), probe.to(run.device))
    trainer.state.feature_format = fmt.describe()
    run.log(f"frozen backbone: features in {fmt.describe()} ({why}); the head trains in "
            f"{'float32' if trainer.precision.dtype is None else trainer.precision.amp}")
    train_features = source.features("train", trainer.train.dataset)
    valid_features = source.features("valid", trainer.valid.dataset)
    run.log(f"frozen backbone: features of {source.summary()} ({time.perf_counter() - started:.1f} s); "
            f"training the head {head!r} on them")
    for note in source.notes:
        run.log(f"feature cache: {note}")
    shard = dict(device=run.device, data_on_device=o.data_on_device, rank=run.rank, world_size=run.world_size)
    return (model.get_submodule(head),
            Batches(train_features, batch_size=o.batch_size, train=True, seed=run.seed, drop_singleton=True, **shard),
            Batches(valid_features, batch_size=o.evaluation_batch_size, train=False, **shard))


class FeatureSource:
    """The features of a run's splits: read from ``store`` (a ``FeatureStore``, None to keep
    nothing on disk) when it holds them, else computed by the backbone (and kept there)."""

    def __init__(self, trainer: "Trainer", head: str, store: Optional[FeatureStore]):
        self.trainer, self.head, self.store = trainer, head, store
        self.format: Any = None  # the FeatureFormat chosen (choose)
        self.backbone = backbone_digest(trainer.model, head) if store is not None else None
        self.done: list = []  # (split, images, "read" or "computed")
        self.notes: list = []

    def choose(self, formats: list, probe: torch.Tensor) -> tuple:
        """``(the format of formats to compute the features in, why)``: the only one; else the
        one a resumed run used; else one whose training features the store holds; else the first
        under torchrun (every process must compute the same features); else the fastest on
        ``probe``, measured (``features.fastest``)."""
        first = formats[0]
        if len(formats) > 1:
            resumed = format_named(self.trainer.state.feature_format or "", formats)
            stored = [f for f in formats if self._stored(self.trainer.train.dataset, f)]
            if resumed is not None:
                first, why = resumed, f"{first.reason}; as the run it resumes"
            elif self.trainer.run.world_size > 1:
                why = f"{first.reason}; not measured: every process must compute the same features"
            elif stored:
                first, why = stored[0], f"{first.reason}; the feature cache holds these"
            else:
                first, seconds = fastest(self.trainer.model, self.head, probe, formats, self.trainer.run.device)
                measured = ", ".join(f"{f.describe()} {1000 * t:.0f} ms" for f, t in zip(formats, seconds))
                why = f"{formats[0].reason}; the fastest measured on {len(probe)} image(s): {measured}"
            self.format = first
            return first, why
        self.format = first
        return first, first.reason

    def _stored(self, dataset: Any, feature_format: Any) -> bool:
        key = self.key(dataset, feature_format)
        return key is not None and self.store.path(key).is_file()

    def key(self, dataset: Any, feature_format: Any = None) -> Optional[str]:
        """The store's key for the features of ``dataset`` in ``feature_format`` (default the
        chosen one); None when it can't be keyed."""
        content = getattr(dataset, "content_digest", None)
        data = content() if callable(content) else None
        if self.store is None or data is None:
            return None
        described = (feature_format or self.format).describe()
        return digest(KEY_VERSION, self.backbone, data, described, self.trainer.run.device.type, torch.__version__)

    def features(self, split: str, dataset: Any) -> FeatureDataset:
        """The features and labels of ``dataset`` (the ``split`` "train" or "valid")."""
        run, o = self.trainer.run, self.trainer.options
        labels = labels_of(dataset)
        key = self.key(dataset)
        if self.store is not None and key is None:
            self.notes.append(f"the {NAMES[split]} images can't say what they are made of, so their features are "
                              f"not kept on disk")
        if key is not None:
            stored, problem = self.store.load(key)
            if problem is not None:
                run.log(f"zoo: warning: {problem}; computing the features again")
            if stored is not None and self._fits(stored, labels):
                self.done.append((split, len(labels), "read"))
                return FeatureDataset(stored["features"].float().to(run.device), labels)
        # every process computes all the features (the same numbers), then trains on its shard of them
        batches = Batches(dataset, batch_size=feature_batch_size(o.evaluation_batch_size, run.device),
                          device=run.device, train=False,
                          num_workers=o.num_workers, data_on_device=o.data_on_device)
        computed = extract(self.trainer.model, self.head, batches, self.format, run.device)
        self.done.append((split, len(labels), "computed"))
        if key is not None and run.is_main:
            note = self.store.save(key, {"features": computed, "labels": labels}, self.description(split, computed))
            if note is not None:
                self.notes.append(f"{NAMES[split]} features {note}")
        return FeatureDataset(computed.float(), labels)

    @staticmethod
    def _fits(stored: dict, labels: torch.Tensor) -> bool:
        features, saved_labels = stored.get("features"), stored.get("labels")
        return (features is not None and saved_labels is not None and features.shape[0] == labels.numel()
                and torch.equal(saved_labels, labels))

    def description(self, split: str, computed: torch.Tensor) -> dict:
        """What an entry is for, as ``zoo cache`` shows it."""
        run = self.trainer.run
        data = run.section("data")
        return {"recipe": run.name, "split": split, "images": int(computed.shape[0]),
                "model": run.section("model").get("name"), "head": self.head,
                "data": " ".join(str(data[k]) for k in ("name", "root") if k in data),
                "precision": self.format.describe(), "shape": list(computed.shape[1:])}

    def summary(self) -> str:
        """``18 training and 6 validation images computed once (kept in the feature cache ...)``."""
        if len({how for _, _, how in self.done}) == 1:  # the same for both: say it once
            text = " and ".join(f"{n} {NAMES[split]}" for split, n, _ in self.done) + f" images {HOW[self.done[0][2]]}"
        else:
            text = " and ".join(f"{n} {NAMES[split]} images {HOW[how]}" for split, n, how in self.done)
        if self.store is not None and not self.notes and any(how == "computed" for _, _, how in self.done):
            text += " (kept in the feature cache for later runs: zoo cache)"
        return text


def backbone_digest(model: torch.nn.Module, head: str) -> str:
    """A digest of the model without its head: its class, architecture and weights and buffers."""
    prefix = head + "."
    state = {name: tensor for name, tensor in model.state_dict().items() if not name.startswith(prefix)}
    with headless(model, head):
        architecture = repr(model)
    return digest(f"{type(model).__module__}.{type(model).__qualname__}", architecture, state)

"""Whether a run trains its head on the frozen backbone's features computed once, and the
batches it then trains on (see ``zoo_classify.features`` for how the features are computed)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Optional

from zoo_classify.batches import Batches, first_batch, is_random, labels_of
from zoo_classify.features import FeatureDataset, extract, frozen_head, same_output
from zoo_classify.precision import feature_format

if TYPE_CHECKING:
    from zoo_classify.trainer import Trainer


def cached_head(trainer: "Trainer") -> Optional[tuple]:
    """With a frozen backbone and fixed training images, the backbone's features computed once:
    ``(the head module, training batches, validation batches)`` of the features, to give to
    ``Trainer.train_on``. None when the cache can't be used (the log says why, where a user
    would wonder) or ``task.feature_cache`` is off.
    """
    run, o, model, data = trainer.run, trainer.options, trainer.model, trainer.data
    head = frozen_head(model)
    if head is None or o.feature_cache == "off":
        return None
    if is_random(data.train):
        run.log("frozen backbone, but the training images are randomly augmented, so the backbone "
                "runs every step (remove data.augment to compute its features once)")
        return None
    probe, _ = first_batch(data.train, 2)
    if not same_output(model, head, probe.to(run.device)):
        run.log(f"frozen backbone, but head {head!r} is not simply applied to the backbone's output "
                f"in this model, so the backbone runs every step")
        return None
    started = time.perf_counter()
    fmt = feature_format(o, run.device)
    run.log(f"frozen backbone: features in {fmt.describe()} ({fmt.reason}); the head trains in "
            f"{'float32' if trainer.precision.dtype is None else trainer.precision.amp}")
    # every process computes all the features (the same numbers), then trains on its shard of them
    once = dict(batch_size=o.evaluation_batch_size, device=run.device, train=False,
                num_workers=o.num_workers, data_on_device=o.data_on_device)
    features = {}
    for split, dataset in (("train", trainer.train.dataset), ("valid", trainer.valid.dataset)):
        computed = extract(model, head, Batches(dataset, **once), fmt, run.device)
        features[split] = FeatureDataset(computed.float(), labels_of(dataset))
    train_features, valid_features = features["train"], features["valid"]
    run.log(f"frozen backbone: features of {len(train_features)} training and {len(valid_features)} "
            f"validation images computed once ({time.perf_counter() - started:.1f} s); "
            f"training the head {head!r} on them")
    shard = dict(device=run.device, data_on_device=o.data_on_device, rank=run.rank, world_size=run.world_size)
    return (model.get_submodule(head),
            Batches(train_features, batch_size=o.batch_size, train=True, seed=run.seed, drop_singleton=True, **shard),
            Batches(valid_features, batch_size=o.evaluation_batch_size, train=False, **shard))

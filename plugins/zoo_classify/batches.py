"""Batches for training and evaluation, from any map-style dataset.

Two paths give the same ``(x, y)`` batches:

- a ``zoo.toolkit.TensorImageDataset`` (decoded once into one tensor) is sliced by index,
  augmented and normalised per batch, on the device when the data fits there;
- any other torch Dataset goes through a ``DataLoader``.

The order of every epoch comes from a generator seeded by ``(seed, epoch)``, so an epoch's
batches are the same whether the run went straight through or was resumed.

Under torchrun (``world_size`` > 1) each process gets its shard. Training: a
``DistributedSampler`` (seeded, ``set_epoch`` each epoch) splits every epoch's shuffled order
into equal strided shards, repeating a few samples so every process takes the same number of
steps. Evaluation: disjoint strided shards with no padding, so that sums added up over the
processes count every sample exactly once.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Iterator, Sequence

import torch
from torch.utils.data import (DataLoader, Dataset, DistributedSampler, RandomSampler, SequentialSampler, Subset,
                              TensorDataset)

from zoo.toolkit import ImageBatchDataset, TensorImageDataset
from zoo_classify.features import FeatureDataset

IN_MEMORY = (TensorImageDataset, FeatureDataset)


def auto_workers(dataset: Dataset = None) -> tuple:
    """``(workers, why)`` for ``num_workers: auto`` and ``dataset``: one DataLoader worker per
    CPU this process may use but one (the main process computes), at most 4; none for a
    ``TensorDataset`` (held in memory: workers would only add processes) or where the platform
    can't start them (one CPU, or a daemon process such as another pool's worker), ``why``
    saying so."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset):
        return 0, "a TensorDataset is held in memory: the main process reads it"
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    if multiprocessing.current_process().daemon:
        return 0, "this process is a daemon (a worker of another pool), which can't start loader workers"
    if cpus < 2:
        return 0, "one CPU: the main process reads the data"
    workers = min(4, cpus - 1)
    return workers, f"{cpus} CPUs: {workers} read{'s' if workers == 1 else ''} while the main process computes"


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU generator that depends only on ``(seed, epoch, stream)``."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7_919 + stream) % (2 ** 63))


def labels_of(dataset: Dataset) -> torch.Tensor:
    """Every label of ``dataset`` (cheap when it has ``targets``; reads items otherwise)."""
    if isinstance(dataset, Subset):
        return labels_of(dataset.dataset)[torch.as_tensor(dataset.indices, dtype=torch.long)]
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return torch.as_tensor(targets if isinstance(targets, torch.Tensor) else list(targets)).long().cpu()
    return torch.tensor([int(dataset[i][1]) for i in range(len(dataset))], dtype=torch.long)


def is_random(dataset: Dataset) -> bool:
    """Whether items of ``dataset`` change from one read to the next (random augmentation)."""
    if isinstance(dataset, Subset):
        return is_random(dataset.dataset)
    return bool(getattr(dataset, "has_augment", True))


def has_views(dataset: Dataset) -> bool:
    """zoo's datasets (in memory or lazy) offer ``subset`` and ``without_augment`` views."""
    return callable(getattr(dataset, "subset", None)) and callable(getattr(dataset, "without_augment", None))


def split_off(dataset: Dataset, held: torch.Tensor, kept: torch.Tensor) -> tuple:
    """``(train part, validation part)``; the validation part is never augmented when that can be undone."""
    if has_views(dataset):
        return dataset.subset(kept), dataset.subset(held).without_augment()
    return Subset(dataset, kept.tolist()), Subset(dataset, held.tolist())


def eval_view(dataset: Dataset) -> Dataset:
    return dataset.without_augment() if has_views(dataset) else dataset


class Batches:
    """Iterate ``(x, y)`` batches of a dataset on ``device``; this process's shard of it when
    ``world_size`` > 1 (``rank`` is the process's place, 0..world_size-1). ``num_workers``:
    DataLoader workers for datasets not held in memory, or "auto" (``auto_workers``)."""

    def __init__(self, dataset: Dataset, *, batch_size: int, device: torch.device, train: bool,
                 seed: int = 0, num_workers: "int | str" = 0, drop_singleton: bool = False,
                 data_on_device: str = "auto", rank: int = 0, world_size: int = 1):
        self.rank = rank
        self.world_size = world_size
        self.batch_size = batch_size
        self.device = device
        self.train = train
        self.seed = seed
        self.num_workers = auto_workers(dataset)[0] if num_workers == "auto" else num_workers
        self.drop_singleton = drop_singleton
        self.dataset = dataset
        if isinstance(dataset, IN_MEMORY) and device.type != "cpu" and _fits(dataset, device, data_on_device):
            self.dataset = dataset.to(device)

    def __len__(self) -> int:
        n = self.shard_size
        batches = -(-n // self.batch_size)
        if self.drop_singleton and n % self.batch_size == 1 and batches > 1:
            batches -= 1
        return batches

    @property
    def uses_loader(self) -> bool:
        """Whether batches come through a DataLoader (a dataset not held in memory)."""
        return not isinstance(self.dataset, IN_MEMORY)

    @property
    def shard_size(self) -> int:
        """Samples this process takes each epoch (all of them in one process)."""
        n = len(self.dataset)
        if self.world_size == 1:
            return n
        if self.train:  # DistributedSampler(drop_last=False): padded to equal shards
            return -(-n // self.world_size)
        return len(range(self.rank, n, self.world_size))

    @property
    def num_samples(self) -> int:
        n = self.shard_size
        if self.drop_singleton and n % self.batch_size == 1 and n > 1:
            n -= 1
        return n

    def epoch(self, epoch: int) -> Iterator[tuple]:
        """The batches of epoch ``epoch`` (shuffled when training)."""
        n = len(self.dataset)
        if isinstance(self.dataset, IN_MEMORY):
            if self.world_size > 1:
                order = torch.as_tensor(list(self._sampler(epoch)), dtype=torch.long)
            else:
                order = torch.randperm(n, generator=epoch_generator(self.seed, epoch)) if self.train else torch.arange(n)
            augment_generator = epoch_generator(self.seed, epoch, stream=1 + 2 * self.rank)
            if self.dataset.device.type != "cpu":
                augment_generator = torch.Generator(self.dataset.device).manual_seed(
                    int(torch.randint(2 ** 62, (1,), generator=augment_generator)))
            for start in range(0, self.num_samples, self.batch_size):
                idx = order[start:start + self.batch_size]
                if idx.numel() == 0:
                    break
                x, y = self.dataset.batch(idx, augment=self.train, generator=augment_generator)
                yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            return
        # the loader's own generator seeds its workers: reading batches never draws from the global
        # RNG, so validating (at any step) leaves the training's dropout and augmentation as they were
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=self._sampler(epoch),
                            num_workers=self.num_workers, pin_memory=self.device.type == "cuda",
                            drop_last=False, generator=epoch_generator(self.seed, epoch, stream=2 + 2 * self.rank))
        seen = 0
        for x, y in loader:
            if self.drop_singleton and x.shape[0] == 1 and seen:
                break
            seen += x.shape[0]
            yield x.to(self.device, non_blocking=True), torch.as_tensor(y).to(self.device, non_blocking=True)

    def _sampler(self, epoch: int):
        """The indices of this process's samples in epoch ``epoch``, in order."""
        if self.world_size > 1 and self.train:
            sampler = DistributedSampler(self.dataset, num_replicas=self.world_size, rank=self.rank,
                                         shuffle=True, seed=self.seed, drop_last=False)
            sampler.set_epoch(epoch)
            return sampler
        if self.world_size > 1:
            return range(self.rank, len(self.dataset), self.world_size)
        if self.train:
            return RandomSampler(self.dataset, generator=epoch_generator(self.seed, epoch))
        return SequentialSampler(self.dataset)


def _fits(dataset: "TensorImageDataset | FeatureDataset", device: torch.device, policy: str) -> bool:
    if policy == "never":
        return False
    if policy == "always":
        return True
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return dataset.nbytes < 0.25 * free
    return dataset.nbytes < 2 * 1024 ** 3


def first_batch(dataset: Dataset, size: int) -> tuple:
    """Up to ``size`` unaugmented samples as one batch (for the dry forward)."""
    return batch_at(dataset, range(min(size, len(dataset))))


def batch_at(dataset: Dataset, indices: Sequence[int]) -> tuple:
    """The unaugmented samples at ``indices`` of ``dataset`` as one batch ``(x, y)``."""
    dataset = eval_view(dataset)
    if isinstance(dataset, ImageBatchDataset):
        return dataset.batch(torch.as_tensor(list(indices), dtype=torch.long), augment=False)
    items = [dataset[i] for i in indices]
    return torch.stack([torch.as_tensor(x) for x, _ in items]), torch.tensor([int(y) for _, y in items])


def sample_shape(dataset: Dataset) -> tuple:
    """``(C, H, W)`` of one sample as the model gets it."""
    if isinstance(dataset, ImageBatchDataset):
        return tuple(dataset.sample_shape)
    x, _ = dataset[0]
    return tuple(torch.as_tensor(x).shape)


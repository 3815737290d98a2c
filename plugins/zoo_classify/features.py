"""Transfer learning with a frozen backbone: compute the backbone's features once.

When everything but the model's head is frozen and the training images are the same every
epoch (no random augmentation), running the backbone again each epoch recomputes the same
numbers. Instead, the backbone runs once over the training and validation images (in eval
mode, without gradients) and the head trains on the stored features: every later epoch costs
only the head.

The head is the module named by the model's ``zoo_head`` attribute (zoo's model factories set
it). The cache is used only when it gives the model's own output: on a probe image the head
must be called once and its output be the model's (``same_output``); otherwise training goes
the ordinary way.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Union

import torch
from torch import nn

Indices = Union[torch.Tensor, list]

#: Images per batch when a frozen backbone computes its features on the CPU. A small batch's
#: activations stay in the core's caches: DenseNet-121 at 224 px, float32 channels_last, one
#: thread on this repository's test CPU (4 MiB L2 per core) took 0.12 s per image in batches of
#: 4 or 8 against 0.16-0.20 s in batches of 16 to 64 (the batch size leaves each image's
#: features as they are, to rounding: eval mode, no batch statistics).
CPU_FEATURE_BATCH = 8


def feature_batch_size(evaluation_batch_size: int, device: torch.device) -> int:
    """Images per batch for computing a frozen backbone's features on ``device``: at most
    ``CPU_FEATURE_BATCH`` on the CPU, else ``evaluation_batch_size`` (accelerators are fastest
    with large batches). A fixed number, so that a run and its resumption compute the same
    features."""
    return min(evaluation_batch_size, CPU_FEATURE_BATCH) if device.type == "cpu" else evaluation_batch_size


def frozen_head(model: nn.Module) -> Optional[str]:
    """The head's dotted name when only the head trains; else None."""
    head = getattr(model, "zoo_head", None)
    if not isinstance(head, str):
        return None
    try:
        head_module = model.get_submodule(head)
    except AttributeError:
        return None
    head_ids = {id(p) for p in head_module.parameters()}
    others = [p for p in model.parameters() if id(p) not in head_ids]
    if not others or any(p.requires_grad for p in others):
        return None
    if not any(p.requires_grad for p in head_module.parameters()):
        return None
    return head


@contextmanager
def headless(model: nn.Module, head: str) -> Iterator[nn.Module]:
    """Within the block the model's head is an identity: the model returns its features."""
    parent_name, _, attr = head.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    original = getattr(parent, attr)
    setattr(parent, attr, nn.Identity())
    try:
        yield model
    finally:
        setattr(parent, attr, original)


def same_output(model: nn.Module, head: str, x: torch.Tensor) -> bool:
    """Whether ``head(backbone(x))`` is ``model(x)``: in one forward pass (eval mode, no
    gradients) the head is called once, on one tensor, and its output is what the model returns.
    Then the model without its head returns exactly the head's input: the features."""
    calls = []
    hook = model.get_submodule(head).register_forward_hook(lambda module, inputs, output: calls.append((inputs, output)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            full = model(x)
    except Exception:
        return False
    finally:
        hook.remove()
        model.train(was_training)
    return len(calls) == 1 and len(calls[0][0]) == 1 and calls[0][1] is full


def extract(model: nn.Module, head: str, batches: Any, feature_format: Any, device: torch.device) -> torch.Tensor:
    """Run the backbone once over ``batches`` (no shuffling, no augmentation) in eval mode,
    without gradients, in ``feature_format`` (a ``zoo_classify.precision.FeatureFormat``: the
    autocast dtype, channels_last); return the features (one row per image) in the dtype the
    backbone gives them (bfloat16 under bf16 autocast, for instance). The model's memory format
    is as it was afterwards.
    """
    model.eval()
    chunks = []
    with torch.no_grad(), headless(model, head), memory_format(model, feature_format.channels_last):
        for x, _ in batches.epoch(0):
            if feature_format.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with feature_format.autocast(device):
                chunks.append(model(x))
    return torch.cat(chunks)


#: ``fastest`` stops after one timed round when the slowest format took this many times the fastest's.
CLEAR_LEAD = 1.3


def fastest(model: nn.Module, head: str, x: torch.Tensor, formats: list, device: torch.device) -> tuple:
    """``(the format of formats computing the backbone's features of x fastest, seconds each)``:
    each format runs once to warm up, then once or twice more, in turn (a second time unless one
    is ``CLEAR_LEAD`` times faster than another); its best time counts. The model's weights
    change memory format only between formats that differ in it (the change copies them all)."""
    model.eval()
    best = [float("inf")] * len(formats)
    layouts = {fmt.channels_last for fmt in formats}
    shared = layouts.pop() if len(layouts) == 1 else False  # one layout for all: set once
    with torch.no_grad(), headless(model, head), memory_format(model, shared):
        for round in range(3):
            if round == 2 and max(best) >= CLEAR_LEAD * min(best):
                break
            for i, fmt in enumerate(formats):
                with memory_format(model, fmt.channels_last), fmt.autocast(device):
                    inputs = x.contiguous(memory_format=torch.channels_last) if fmt.channels_last and x.dim() == 4 else x
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    started = time.perf_counter()
                    model(inputs)
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    if round:
                        best[i] = min(best[i], time.perf_counter() - started)
    return formats[best.index(min(best))], best


@contextmanager
def memory_format(model: nn.Module, channels_last: bool) -> Iterator[nn.Module]:
    """Within the block the model's 4-D weights are channels_last when asked; they get their
    previous format back after (the same values: only the layout changes)."""
    weights = [p for p in model.parameters() if p.dim() == 4]
    already = all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    if not channels_last or already or not weights:
        yield model
        return
    model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        model.to(memory_format=torch.contiguous_format)


class FeatureDataset:
    """Stored features and labels, served in batches like ``zoo.toolkit.TensorImageDataset``."""

    has_augment = False

    def __init__(self, features: torch.Tensor, labels: torch.Tensor):
        self.features = features
        self.labels = labels

    def __len__(self) -> int:
        return self.features.shape[0]

    def __getitem__(self, i: int) -> tuple:
        return self.features[i], int(self.labels[i])

    def batch(self, indices: Indices, *, augment: bool = True, generator: Optional[torch.Generator] = None) -> tuple:
        idx = torch.as_tensor(indices, dtype=torch.long).to(self.features.device)
        return self.features.index_select(0, idx), self.labels.index_select(0, idx)

    @property
    def targets(self) -> torch.Tensor:
        return self.labels

    @property
    def device(self) -> torch.device:
        return self.features.device

    @property
    def nbytes(self) -> int:
        return self.features.numel() * self.features.element_size() + self.labels.numel() * 8

    def to(self, device: Any) -> "FeatureDataset":
        return FeatureDataset(self.features.to(device), self.labels.to(device))

    def without_augment(self) -> "FeatureDataset":
        return self

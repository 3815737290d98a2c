"""A seeded, stratified split of a dataset's labels into two sets of positions."""

from __future__ import annotations

from typing import Sequence, Union

import torch

__all__ = ["split_indices"]


def split_indices(
    labels: Union[torch.Tensor, Sequence[int]],
    fraction: float,
    *,
    seed: int = 0,
    stratify: bool = True,
) -> tuple:
    """Split positions ``0..N-1`` into ``(kept, held_out)`` LongTensors, reproducibly.

    ``fraction`` (0..1) of the samples are held out, drawn with ``torch.Generator`` seeded
    by ``seed``. With ``stratify`` every label keeps its share: each class gives
    ``round(fraction * its count)`` samples (the rounding leftovers are shared so the total
    is ``round(fraction * N)``). Both outputs are sorted.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    labels = torch.as_tensor(labels).reshape(-1).cpu()
    n = labels.numel()
    target = int(round(fraction * n))
    generator = torch.Generator().manual_seed(int(seed))
    if not stratify or n == 0:
        held = torch.randperm(n, generator=generator)[:target]
    else:
        groups = [torch.nonzero(labels == c).flatten() for c in torch.unique(labels)]
        shares = [fraction * g.numel() for g in groups]
        counts = [int(s) for s in shares]
        # hand the leftover samples to the classes with the largest remainders
        order = sorted(range(len(groups)), key=lambda k: shares[k] - counts[k], reverse=True)
        for k in order[: max(0, target - sum(counts))]:
            counts[k] += 1
        held = torch.cat(
            [g[torch.randperm(g.numel(), generator=generator)[:k]] for g, k in zip(groups, counts)]
        )
    mask = torch.ones(n, dtype=torch.bool)
    mask[held] = False
    return torch.nonzero(mask).flatten(), torch.sort(held).values

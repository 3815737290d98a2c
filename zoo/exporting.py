"""Exporting a model to a file, checked before it is kept.

``export_checked`` writes the model in a format (``zoo.export_formats``) to a temporary file
beside the destination, opens that file with the format's own runtime (``zoo.model_files``),
compares its scores with the eager model's on a batch of the run's real test images (and on
batches of other values, which a trace holding one path of the model's control flow fails), and
only then renames it into place: a failed export or check leaves nothing behind, and the
destination is never half written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from zoo.atomic import fsync_dir
from zoo.errors import RunFailure, UserError
from zoo.export_formats import FORMATS, ExportError

__all__ = ["ExportCheck", "export_checked", "tolerance"]


@dataclass(frozen=True)
class ExportCheck:
    """What the check of an exported file found: the ``largest`` absolute difference of its
    scores from the eager model's, the ``tolerance`` it had to stay within, over ``images``."""

    largest: float
    tolerance: float
    images: int


def tolerance(reference: Any) -> float:
    """How far an exported model's scores may stray from the eager ``reference`` scores (a
    numpy array): 1e-4, relative to the largest score when that exceeds 1."""
    return 1e-4 * max(1.0, float(abs(reference).max()) if reference.size else 1.0)


def export_checked(fmt: str, best: Any, path: Path, registries: Optional[Callable[[], Any]] = None) -> ExportCheck:
    """Write ``best`` (a ``zoo.task.BestModel``) as ``fmt`` to ``path``, checked (module docstring).

    The model is traced with the first two example images and checked on all of them, so a
    batch axis that is not dynamic fails the check, then on two batches of other values (the
    examples negated, noise), so a trace that kept one path of a Python ``if`` on the input's
    values fails too. Raises ``zoo.UserError`` when the format cannot hold the model (naming the
    format, the model and the cause: for a trace torch's tracer doubted and the other values
    fail, its warning), and ``zoo.toolkit.RunFailure`` when the written file's scores differ
    beyond the tolerance.
    """
    import torch

    from zoo.model_files import open_model_file

    examples = best.examples.detach().to("cpu", torch.float32)
    if examples.shape[0] < 2:  # a batch of one would fix the batch axis
        examples = torch.cat([examples, examples])
    module = best.module.to("cpu").eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    # a private folder beside the destination, holding a file of the destination's own name:
    # torch names the archive inside a .pt2 or TorchScript file after the file
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    temporary = scratch / path.name
    model_name = best.card["model"]["name"]
    try:
        try:
            doubts = FORMATS[fmt].write(module, examples[:2], best.card, temporary)
        except ExportError as exc:
            raise UserError(f"cannot export model {model_name!r} to {fmt}: {exc}") from None
        try:
            loaded = open_model_file(temporary, registries, fmt=fmt)
        except UserError as exc:  # named after the destination: the temporary file is gone after this
            raise UserError(str(exc).replace(str(temporary), str(path))) from None
        batch = examples.numpy()
        check = _compare(fmt, model_name, module, loaded.scores, batch, "the run's test images")
        for probe in _other_values(examples):  # a trace that fixed one path of the model's control flow
            try:
                _compare(fmt, model_name, module, loaded.scores, probe, "inputs of other values than the test images")
            except RunFailure:
                if not doubts:
                    raise
                raise UserError(f"cannot export model {model_name!r} to {fmt}: its scores depend on the values of "
                                f"its input through Python control flow, and the trace keeps only the path the "
                                f"example images took (torch: {doubts[0]}); export it as safetensors, "
                                f"or make the model traceable") from None
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # an ordinary file to share, whatever mode the writer chose
        os.replace(temporary, path)
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return check


def _compare(fmt: str, model_name: str, module: Any, scores: Callable, batch: Any, inputs: str) -> ExportCheck:
    """How far ``scores`` (the exported file's) stray from ``module``'s on the numpy ``batch``;
    ``zoo.toolkit.RunFailure`` beyond the tolerance (``inputs`` says what the batch holds)."""
    from zoo.card_models import torch_scores

    reference = torch_scores(module)(batch)
    exported = scores(batch)
    if exported.shape != reference.shape:
        raise RunFailure(f"the {fmt} export of model {model_name!r} gives scores of shape {exported.shape}, "
                         f"the eager model {reference.shape}; nothing written")
    check = ExportCheck(float(abs(exported - reference).max()), tolerance(reference), len(batch))
    if not check.largest <= check.tolerance:
        raise RunFailure(f"the {fmt} export of model {model_name!r} differs from the eager model by "
                         f"{check.largest:.3g} on {inputs} (tolerance {check.tolerance:.1g}); nothing written")
    return check


def _other_values(examples: Any) -> list:
    """Batches of other values than ``examples`` (a float32 tensor), same shape, as numpy: the
    examples negated, and noise of their mean and spread (seeded: the same each time)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(examples.shape, generator=generator) * examples.std().clamp_min(1e-3) + examples.mean()
    return [(-examples).numpy(), noise.numpy()]

"""The memory format a classification model trains in: NCHW (contiguous) or NHWC (channels_last).

``task.channels_last: true`` or ``false`` decides. With ``auto`` (the default) a model that
trains 2-D convolutions (not a head on cached features) is timed in both formats on one
training batch before its first epoch, and trains in the faster: channels_last only when it is
at least ``MARGIN`` faster, since a tie is noise. Which format is faster depends on the model,
the batch and the device: on this repository's 2-core test CPU (one thread) the seeds' CIFAR CNN
took 21 ms per step at batch 20 channels_last against 30 ms contiguous, while ResNet-18 at
64 px was slower channels_last (0.88x). The measurement runs on a copy of the model, under a
forked random generator, so the run's weights, statistics and random numbers are untouched. The
choice is logged with both times and kept in ``last.pt``: a resumed run trains as it did.
Under torchrun nothing is measured (every process must train alike): contiguous.
"""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

import torch

from zoo.toolkit import train_unfrozen
from zoo_classify.batches import first_batch

if TYPE_CHECKING:
    from zoo_classify.trainer import Trainer

#: channels_last is chosen when its step takes at most this share of the contiguous step's time.
MARGIN = 0.95
NAMES = {True: "channels_last", False: "contiguous"}


def trains_convolutions(model: torch.nn.Module) -> bool:
    """Whether ``model`` has a trainable 4-D weight (a 2-D convolution's), whose format matters."""
    return any(p.requires_grad and p.dim() == 4 for p in model.parameters())


def step_seconds(model: torch.nn.Module, criterion: Any, x: torch.Tensor, y: torch.Tensor, precision: Any,
                 rounds: int = 3) -> dict:
    """``{False: seconds, True: seconds}``: the best time of a forward and backward pass of a
    copy of ``model`` (training mode, frozen modules in eval mode) on the batch ``(x, y)``
    under ``precision``'s autocast, contiguous and channels_last, in turn, ``rounds`` times each
    (the first to warm up). ``model`` and the random generators are left as they were."""
    trial = copy.deepcopy(model)
    train_unfrozen(trial)
    device = x.device
    best = {False: math.inf, True: math.inf}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for round in range(rounds):
            for channels_last in (False, True):
                layout = torch.channels_last if channels_last else torch.contiguous_format
                trial.to(memory_format=layout)
                inputs = x.contiguous(memory_format=layout) if x.dim() == 4 else x
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                started = time.perf_counter()
                with precision.autocast():
                    loss = criterion(trial(inputs), y)
                loss.backward()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if round:
                    best[channels_last] = min(best[channels_last], time.perf_counter() - started)
                trial.zero_grad(set_to_none=True)
    return best


def choose_memory_format(trainer: "Trainer", step_model: Any) -> None:
    """Decide the format ``trainer`` trains ``step_model`` in (see the module docstring), put
    the model in it, record it in ``trainer.state.memory_format`` and set
    ``trainer.channels_last``. The log says the choice and why where ``auto`` decided it."""
    run, o, state = trainer.run, trainer.options, trainer.state
    if step_model is not trainer.step_model or not trains_convolutions(trainer.model):
        state.memory_format = NAMES[False] if o.channels_last == "auto" else NAMES[o.channels_last]
        return
    if o.channels_last != "auto":
        channels_last, why = o.channels_last, None
    elif state.memory_format in ("channels_last", "contiguous"):
        channels_last, why = state.memory_format == "channels_last", "as the run it resumes"
    elif run.world_size > 1:
        channels_last, why = False, "not measured under torchrun: every process trains alike"
    else:
        x, y = first_batch(trainer.data.train, o.batch_size)
        try:
            seconds = step_seconds(trainer.model, trainer.criterion, x.to(run.device), y.to(run.device),
                                   trainer.precision)
        except Exception as error:  # a model that can't take NHWC input, or can't be copied
            channels_last = False
            why = f"channels_last could not be measured ({type(error).__name__}: {str(error).splitlines()[0]:.80})"
        else:
            channels_last = seconds[True] <= MARGIN * seconds[False]
            why = (f"one training step of {len(x)} samples measured: contiguous {1000 * seconds[False]:.1f} ms, "
                   f"channels_last {1000 * seconds[True]:.1f} ms")
    if channels_last:
        trainer.model.to(memory_format=torch.channels_last)
    trainer.channels_last = channels_last
    state.memory_format = NAMES[channels_last]
    if why is not None:
        run.log(f"model: trains {NAMES[channels_last]} (task.channels_last: auto; {why})")

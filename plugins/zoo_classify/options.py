"""The classification task's options: one pydantic model, the recipe's ``task:`` keys.

``ClassificationOptions`` is both the schema and the object the task reads: the registered
factory (``zoo_classify.task.classification``) takes its signature, so recipe validation and
``zoo info task classification`` show its fields (types, bounds, defaults), and
``options_help()`` turns the fields' descriptions into the options part of the task's doc.
The model is frozen: a run reads its options, never changes them.
"""

from __future__ import annotations

import textwrap
from typing import Annotated, Literal, Optional, Union

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field

# counts and sizes have a sane upper bound, stated in their type: 10**40 epochs is a typo, not a plan
Epochs = Annotated[int, Gt(0), Le(1_000_000)]
BatchSize = Annotated[int, Gt(0), Le(10_000_000)]
Steps = Annotated[int, Gt(0), Le(1_000_000_000)]


class ClassificationOptions(BaseModel):
    """The ``task:`` keys of a classification recipe (each field's description says what it does)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: Epochs = Field(10, description="passes over the training data.")
    batch_size: BatchSize = Field(64, description="samples per training step.")
    eval_batch_size: Optional[BatchSize] = Field(
        None, description="samples per evaluation batch (default 4x batch_size).")
    valid_fraction: Annotated[float, Gt(0), Lt(1)] = Field(
        0.2, description="share of the training data held out for validation when the dataset has no "
                         "validation split of its own (seeded, stratified).")
    device: str = Field("auto", description="auto (CUDA, MPS, CPU) or a device name.")
    patience: Optional[Epochs] = Field(
        None, description="stop after this many epochs without a better validation loss.")
    valid_every: Optional[Steps] = Field(
        None, description="also validate every this many training steps inside each epoch (as the seeds' "
                          "transfer loop does with print_every); each round is logged, written to the "
                          "metrics and may replace the best checkpoint.")
    num_workers: Union[Literal["auto"], Annotated[int, Ge(0), Le(1024)]] = Field(
        "auto", description="DataLoader workers for datasets read item by item (image files decoded when read, "
                            "other libraries' datasets); auto: one per CPU but one, at most 4, where the platform "
                            "can start them (the log says how many, or why none). In-memory datasets (zoo's, "
                            "a TensorDataset) need none.")
    amp: Literal["off", "bf16", "fp16"] = Field(
        "off", description="mixed precision (bf16 or fp16; fp16 uses a gradient scaler on CUDA). Set, it "
                           "also decides a frozen backbone's feature precision; unset, training is float32 "
                           "and feature_precision chooses.")
    channels_last: Union[bool, Literal["auto"]] = Field(
        "auto", description="NHWC memory format for the model's convolutions: auto = the faster of NHWC and "
                            "NCHW, measured on one training batch before the first epoch when the model trains "
                            "convolutions (the log says which and the times; a resumed run keeps its choice). "
                            "true or false decides (set, it also decides a frozen backbone's feature format).")
    compile: bool = Field(False, description="torch.compile the model (compile_backend: its backend).")
    compile_backend: str = Field("inductor", description="the torch.compile backend.")
    data_on_device: Literal["auto", "always", "never"] = Field(
        "auto", description="keep in-memory datasets on the GPU (auto: when they take under a quarter of "
                            "its free memory).")
    clip_grad_norm: Optional[Annotated[float, Gt(0)]] = Field(
        None, description="clip the gradients' norm to this value.")
    nan_policy: Literal["stop", "skip"] = Field(
        "stop", description='what a NaN or infinite loss does: "stop" ends the run with an error naming the '
                            'epoch, the step and the last good checkpoint; "skip" leaves such a training '
                            "batch out (no update) and a non-finite validation loss is never taken as the best.")
    feature_cache: Literal["auto", "memory", "off"] = Field(
        "auto", description="with a frozen backbone and training images that are not randomly augmented, "
                            "compute the backbone's features once and train the head on them, keeping them "
                            "on disk for later runs with the same backbone and data (auto: the zoo cache "
                            "folder, see zoo cache); memory: computed once per run, not kept; off: run the "
                            "backbone every step (the same training, slower).")
    feature_precision: Literal["auto", "float32", "bf16", "fp16"] = Field(
        "auto", description="the precision a frozen backbone's features are computed in (the head always "
                            "trains in float32 unless amp is set): auto = the fastest the device supports "
                            "(bf16 autocast and channels_last on CPUs with native bfloat16, bf16 or fp16 on "
                            "GPUs), where amp and channels_last are unset; the log says which and why. Any "
                            "other value turns the automatic choice off (channels_last as set).")
    grid_size: Annotated[int, Ge(0), Le(1000)] = Field(20, description="test images in the prediction grid.")
    plots: bool = Field(True, description="draw the pictures (curves, confusion matrix, prediction grid).")

    @property
    def evaluation_batch_size(self) -> int:
        """Samples per evaluation batch: ``eval_batch_size``, or 4x ``batch_size`` when unset."""
        return self.eval_batch_size or 4 * self.batch_size


def options_help(model: type = ClassificationOptions) -> str:
    """One ``name: description`` line per field of the options ``model``, in declaration order."""
    return "\n".join(textwrap.fill(f"{name}: {field.description}", width=92, subsequent_indent="    ")
                     for name, field in model.model_fields.items())

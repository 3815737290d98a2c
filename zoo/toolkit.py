"""The plugin toolkit: what a plugin may build on besides the hooks, from one place.

Everything here is public and stable: a plugin imports it as ``from zoo.toolkit import NAME``,
and the built-in plugins use nothing else of zoo's (besides ``zoo.hookimpl``, ``zoo.Splits``,
``zoo.UserError`` and the task protocol in ``zoo.task``). The public modules are ``zoo``,
``zoo.toolkit``, ``zoo.task``, ``zoo.kinds`` and, to read the hook specifications,
``zoo.hookspecs``; every other module under ``zoo`` is internal and may change without notice.
docs/toolkit.md describes each name with examples.

Importing this module imports torch; a plugin's entry-point module (the one holding its hooks)
should import it only inside factories, so that ``zoo list`` stays instant.

Errors
    ``UserError``      a mistake the user can fix: printed as one ``zoo: error:`` line, exit 2.
    ``RunFailure``     a failure while running (a NaN loss, a full disk): one line, exit 1.

Image datasets (what a dataset factory's splits may be; the classification task batches them
without a DataLoader)
    ``TensorImageDataset``   images held in one tensor, transformed a batch at a time.
    ``ImageBatchDataset``    the base class: subclass it for images read lazily (files).
    ``BatchCompose``, ``RandomBatchCompose``   chain deterministic / random batch transforms.
    ``finish_batch``         uint8 images -> the float batch a model takes.
    ``split_indices``        a seeded, stratified split of labels into two index sets.
    ``decode_image``         an image file as a uint8 H×W×C array, covering a size, centre-cropped.
    ``UnreadableImage``      what ``decode_image`` raises for a file that is not a readable image.

Weights (pretrained files: caches, hashes, safe loading)
    ``load_state_dict``      read a weights file's tensors (never unpickling code).
    ``apply_state_dict``     copy them into a model strictly, except the modules it rebuilt.
    ``find_or_download``     a URL's file in torch.hub's cache, downloaded only if allowed.
    ``verify_hash``          check a file against the SHA-256 prefix its name carries.
    ``checkpoints_dir``      torch.hub's folder of weight files.
    ``downloads_allowed``    False when ``ZOO_OFFLINE`` or ``HF_HUB_OFFLINE`` is set.
    ``network_problem``      why URLs can't be reached now ("no network (...)"), found in seconds; or None.
    ``url_filename``         the file name a URL downloads to.

Caches (what is computed once and kept across runs)
    ``FeatureStore``         tensors kept on disk in the zoo cache folder, size-capped, checked on read.
    ``digest``               a SHA-256 of tensors, numbers, strings and containers of them (cache keys).

Models and parameters
    ``freeze``               stop training the parameters a spec names (all but a head, or globs).
    ``train_unfrozen``       training mode for a model, its frozen modules kept in eval mode.
    ``select_parameters``    the parameters an ``optimizer.params`` spec names.
    ``adapt_input_channels`` rebuild a model's first conv for 1 or N input channels.

Model cards (what a model needs beside its weights to be used without its data)
    ``model_card``           the card of a model a run trained: registry name and keys, classes,
                             input shape, preprocessing, versions, source.
    ``checkpoint_card``      the card recorded in a checkpoint file (None for one without).
    ``card_model``           the model a card describes, built by its factory, weights loaded, checked.
    ``describe_classes``     ``10 classes [0, 1, 2, 3, 4, 5, ... (10 in all)]``, for messages.

Checkpoints and resuming
    ``checkpoint_mismatch``  what differs between a model's state dict and a saved one.
    ``saved_progress``       the ``epoch`` a checkpoint file was saved at.
    ``logged_epoch``         the epoch of a run folder's last metrics.jsonl line (what a resume must log again).
    ``rng_state``, ``set_rng_state``   every global generator's state, saved and restored.

Several processes (torchrun)
    ``distributed_active``   whether this process is one of several.
    ``distributed_backend``  the backend for a device (nccl, gloo).
    ``all_reduce_sum``       add tensors up over every process, in place.
    ``any_process``          whether a flag holds in at least one process.
    ``broadcast_module``, ``broadcast_buffers``   copy rank 0's weights / buffers everywhere.
    ``wrap_distributed``     DistributedDataParallel around a module (itself in one process).
"""

from __future__ import annotations

from zoo.batch_transforms import BatchCompose, RandomBatchCompose, finish_batch
from zoo.card_models import card_model
from zoo.model_card import checkpoint_card, describe_classes
from zoo.model_card import make_card as model_card
from zoo.checkpoints import mismatch as checkpoint_mismatch
from zoo.checkpoints import saved_progress
from zoo.distributed import all_reduce_sum, any_process, broadcast_buffers, broadcast_module
from zoo.distributed import backend_for as distributed_backend
from zoo.distributed import is_active as distributed_active
from zoo.distributed import wrap as wrap_distributed
from zoo.errors import RunFailure, UserError
from zoo.feature_store import FeatureStore, digest
from zoo.image_datasets import ImageBatchDataset, TensorImageDataset
from zoo.image_files import UnreadableImage, decode_image
from zoo.metrics_file import logged_epoch
from zoo.input_channels import adapt_input_channels
from zoo.params import freeze, select_parameters, train_unfrozen
from zoo.rng import rng_state, set_rng_state
from zoo.stratified_split import split_indices
from zoo.weights import (apply_state_dict, checkpoints_dir, downloads_allowed, find_or_download, load_state_dict,
                         network_problem, url_filename, verify_hash)

__all__ = [
    "UserError", "RunFailure",
    "TensorImageDataset", "ImageBatchDataset", "BatchCompose", "RandomBatchCompose", "finish_batch",
    "split_indices", "decode_image", "UnreadableImage",
    "load_state_dict", "apply_state_dict", "find_or_download", "verify_hash", "checkpoints_dir",
    "downloads_allowed", "network_problem", "url_filename",
    "FeatureStore", "digest",
    "freeze", "select_parameters", "train_unfrozen", "adapt_input_channels",
    "model_card", "checkpoint_card", "card_model", "describe_classes",
    "checkpoint_mismatch", "saved_progress", "logged_epoch", "rng_state", "set_rng_state",
    "distributed_active", "distributed_backend", "all_reduce_sum", "any_process", "broadcast_module",
    "broadcast_buffers", "wrap_distributed",
]

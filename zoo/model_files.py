"""Exported model files, opened for prediction: their card, and a function computing scores.

``open_model_file(path)`` recognises the four formats of ``zoo export`` (``zoo.export_formats``)
by their suffix (``.onnx``, ``.pt2``, ``.safetensors``) or, for TorchScript, by the archive's
contents, reads the card inside without unpickling anything, and loads the model with the
format's own runtime: onnxruntime (no torch is imported), ``torch.export.load``,
``torch.jit.load``, or the card's registered model factory with the safetensors weights. The
card is then checked against the model (``zoo.card_models.check_card_fits``).
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from zoo.errors import UserError
from zoo.model_card import CARD_EXTRA_FILE, CARD_METADATA_KEY, check_outputs, parse_card

__all__ = ["LoadedModel", "open_model_file", "format_of", "SUFFIXES", "check_suffix"]

#: The suffixes (lower case) ``zoo predict`` tells formats by; TorchScript, by the archive's contents.
SUFFIXES = {".onnx": "onnx", ".pt2": "exported", ".safetensors": "safetensors"}


@dataclass
class LoadedModel:
    """An exported model ready to predict: its ``format``, ``card`` and ``scores`` (a function
    from a float32 numpy batch B×C×H×W to float32 scores B×K)."""

    format: str
    card: dict
    scores: Callable


def format_of(path: Path) -> str:
    """The export format of the file at ``path`` (``onnx``, ``exported``, ``torchscript`` or
    ``safetensors``); ``zoo.UserError`` for a file that is none of them."""
    if path.suffix.lower() in SUFFIXES:
        return SUFFIXES[path.suffix.lower()]
    names = _zip_names(path)
    if any("/code/" in n for n in names) and any(n.endswith("/constants.pkl") for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") for n in names):
        raise UserError(f"{path}: a PyTorch checkpoint, not an exported model; give its run folder "
                        f"(zoo predict RUN_DIR ...) or export it (zoo export RUN_DIR --format ...)")
    raise UserError(f"{path}: not a model file zoo can predict with (expected a run folder, or a .onnx, .pt2, "
                    f".safetensors or TorchScript file written by zoo export)")


def check_suffix(path: Path, fmt: str, where: str) -> None:
    """Refuse (``zoo.UserError`` naming ``where``, the option giving ``path``) a file name that
    ``zoo predict`` would not read as ``fmt``: .onnx, .pt2 and .safetensors files are told by
    their suffix, so those formats need theirs and TorchScript must have none of them."""
    suffix = path.suffix.lower()
    needed = next((s for s, f in SUFFIXES.items() if f == fmt), None)
    if needed is not None and suffix != needed:
        raise UserError(f"{where} {path}: the file zoo predict reads as {fmt} must end with {needed} "
                        f"(e.g. {path.stem}{needed})")
    if needed is None and suffix in SUFFIXES:
        raise UserError(f"{where} {path}: a {fmt} file must not end with {suffix} (zoo predict would read it as "
                        f"{SUFFIXES[suffix]}); name it e.g. {path.stem}.ts.pt")


def open_model_file(path: Path, registries: Optional[Callable[[], Any]] = None, *,
                    threads: Optional[int] = None, fmt: Optional[str] = None) -> LoadedModel:
    """Open the exported model at ``path`` (see the module docstring). ``registries`` gives the
    plugin registries, needed for safetensors only (the model is built by its factory);
    ``threads``: onnxruntime's intra-op threads (None: its default, one per core); ``fmt``:
    the file's format when known (``zoo export`` checking the file it wrote), else told by
    ``format_of``.

    Raises ``zoo.UserError`` for a file of no known format, without a card, whose card does not
    match the model, or whose runtime (onnxruntime) is not installed.
    """
    path = Path(path)
    fmt = fmt or format_of(path)
    if fmt == "onnx":
        card, scores = _open_onnx(path, threads)
    elif fmt == "safetensors":
        card, scores = _open_safetensors(path, registries)
    else:
        card = parse_card(_zip_record(path, "/extra/" + CARD_EXTRA_FILE), str(path))
        scores = _open_torch_archive(path, fmt)
    if fmt != "onnx":  # onnxruntime declared its shapes; a torch model is probed
        from zoo.card_models import check_card_fits

        check_card_fits(scores, card, str(path))
    return LoadedModel(fmt, card, scores)


def _open_onnx(path: Path, threads: Optional[int]) -> tuple:
    try:
        import onnxruntime
    except ImportError:
        raise UserError(f"{path}: predicting with an ONNX file needs onnxruntime: pip install 'zoo[export]'") from None
    try:
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise UserError(f"{path}: onnxruntime cannot load it: {' '.join(str(exc).split())[:300]}") from None
    text = session.get_modelmeta().custom_metadata_map.get(CARD_METADATA_KEY)
    if text is None:
        raise UserError(f"{path}: no zoo model card in its metadata ({CARD_METADATA_KEY}); export it with zoo export")
    card = parse_card(text, str(path))
    images, outputs = session.get_inputs()[0], session.get_outputs()[0]
    check_outputs(card, outputs.shape[-1] if len(outputs.shape) == 2 else None, str(path), tuple(images.shape[1:]))
    name = images.name

    def scores(batch: Any) -> Any:
        return session.run(None, {name: batch})[0]

    return card, scores


def _open_safetensors(path: Path, registries: Optional[Callable[[], Any]]) -> tuple:
    from zoo.card_models import model_from_card, torch_scores

    card = parse_card(_safetensors_metadata(path).get(CARD_METADATA_KEY), str(path))
    if registries is None:
        from zoo.plugins import get_manager

        registries = lambda: get_manager(quiet=True).registries  # noqa: E731
    model = model_from_card(registries(), card, str(path))
    from safetensors.torch import load_model

    try:
        missing, unexpected = load_model(model, str(path), strict=False)
    except Exception as exc:
        raise UserError(f"{path}: its weights do not fit model {card['model']['name']!r} as its model card describes "
                        f"it ({' '.join(str(exc).split())[:300]})") from None
    if missing or unexpected:
        raise UserError(f"{path}: its weights do not fit model {card['model']['name']!r} as its model card describes "
                        f"it (missing from the file: {', '.join(missing[:4]) or 'none'}; "
                        f"not in the model: {', '.join(unexpected[:4]) or 'none'})")
    return card, torch_scores(model)


def _open_torch_archive(path: Path, fmt: str) -> Callable:
    import warnings

    import torch

    from zoo.card_models import torch_scores

    try:
        with warnings.catch_warnings():  # torch.jit.load's deprecation notice
            warnings.simplefilter("ignore")
            if fmt == "exported":
                module = torch.export.load(str(path)).module()
            else:
                module = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:
        raise UserError(f"{path}: cannot load it as a {fmt} model: {' '.join(str(exc).split())[:300]}") from None
    return torch_scores(module)


def _safetensors_metadata(path: Path) -> dict:
    """The ``__metadata__`` of a safetensors file's JSON header (read without loading tensors)."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
    except (OSError, struct.error, ValueError) as exc:
        raise UserError(f"{path}: not a safetensors file ({exc})") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or CARD_METADATA_KEY not in metadata:
        raise UserError(f"{path}: no zoo model card in its metadata ({CARD_METADATA_KEY}); export it with zoo export")
    return metadata


def _zip_names(path: Path) -> list:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _zip_record(path: Path, suffix: str) -> str:
    """The text of the record of the archive at ``path`` whose name ends with ``suffix``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(suffix)]
            if names:
                return archive.read(names[0]).decode("utf-8")
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path}: not a model archive ({exc})") from None
    raise UserError(f"{path}: no zoo model card in it ({suffix.lstrip('/')}); export it with zoo export")

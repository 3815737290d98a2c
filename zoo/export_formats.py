"""Writing a model in each format ``zoo export`` offers, with its card inside the file.

=============  ==================  ===================================================================
format         file                how, and where the card goes
=============  ==================  ===================================================================
onnx           ``model.onnx``      ``torch.onnx.export`` (TorchScript-based: ``dynamo=False`` from torch 2.5), opset
                                   17, input ``images`` and output ``scores`` with a dynamic batch
                                   axis; the card in the model's metadata (``zoo_model_card``)
exported       ``model.pt2``       ``torch.export.export`` with a dynamic batch dimension, saved by
                                   ``torch.export.save``; the card as the extra file
                                   ``model_card.json``
torchscript    ``model.ts.pt``     ``torch.jit.trace``, saved by ``torch.jit.save``; the card as the
                                   extra file ``model_card.json``
safetensors    ``model.safetensors``  the weights (``safetensors.torch.save_model``); the card in the
                                   header's metadata (``zoo_model_card``)
=============  ==================  ===================================================================

Each writer takes the module (eval mode, CPU), an example batch of real inputs, the card and the
path to write (a temporary file: ``zoo.exporting`` checks it and renames it). A model a format
cannot hold (data-dependent control flow, an operator ONNX lacks) raises ``ExportError``. The
ONNX and TorchScript writers trace the model: they return what torch's tracer doubted (a Python
``if`` on a tensor's value records one path only), for ``zoo.exporting`` to check the file on
batches of other values and to name as the cause when it differs.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

from zoo.errors import UserError
from zoo.model_card import CARD_EXTRA_FILE, CARD_METADATA_KEY, card_text

__all__ = ["Format", "FORMATS", "ExportError", "TRACE_DOUBTS"]

ONNX_OPSET = 17


class ExportError(Exception):
    """The exporter of a format refused the model; the message says why."""


@dataclass(frozen=True)
class Format:
    """One export format: its name, its default file name and its writer, which returns what
    torch's tracer doubted while recording the model (``TRACE_DOUBTS``: [] when nothing)."""

    name: str
    file_name: str
    write: Callable[[Any, Any, dict, Path], List[str]]


#: What torch's tracer says when the trace it records may hold only the path the example took.
TRACE_DOUBTS = ("might cause the trace to be incorrect", "might not generalize")


def _quietly(export: Callable[[], Any], doubts: Optional[list] = None) -> Any:
    """Run an exporter with its warnings (deprecations, tracer notes) and its own printing
    (torch's C++ code writes graphs to stderr on failure) silenced; any exception it raises
    becomes an ``ExportError`` holding its type and first line. The first line of each of
    torch's ``TracerWarning``s saying the trace may not hold for other inputs (``TRACE_DOUBTS``)
    is appended to ``doubts`` (its first sentence, once each)."""
    with warnings.catch_warnings(record=True) as caught, _silenced_output():
        warnings.simplefilter("always")
        try:
            result = export()
        except UserError:
            raise
        except Exception as exc:
            first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
            raise ExportError(f"{type(exc).__name__}: {first[:300]}") from exc
    if doubts is not None:
        for warning in caught:
            text = str(warning.message).strip().split(". ")[0]
            if (type(warning.message).__name__ == "TracerWarning" and any(d in text for d in TRACE_DOUBTS)
                    and text not in doubts):
                doubts.append(text)
    return result


@contextmanager
def _silenced_output() -> Iterator[None]:
    """Send what is written to file descriptors 1 and 2 (Python's and C++'s) and what is
    logged (torch logs its tracing failures) to nowhere."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        logging.disable(logging.CRITICAL)
        try:
            with redirect_stdout(devnull), redirect_stderr(devnull):  # sys.stdout may not be descriptor 1
                yield
        finally:
            logging.disable(logging.NOTSET)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def write_onnx(module: Any, example: Any, card: dict, path: Path) -> List[str]:
    """``model.onnx``: see the module docstring. Needs the ``onnx`` package (``zoo[export]``)."""
    import io

    import torch

    try:
        import onnx
    except ImportError:
        raise UserError("exporting to onnx needs the onnx and onnxruntime packages: "
                        "pip install 'zoo[export]'") from None
    buffer = io.BytesIO()
    doubts: List[str] = []
    # torch 2.5 added the keyword (its default became True in 2.9); before, there is only the TorchScript exporter
    exporter = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    _quietly(lambda: torch.onnx.export(
        module, (example,), buffer, **exporter, opset_version=ONNX_OPSET, input_names=["images"],
        output_names=["scores"], dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}},
        do_constant_folding=True), doubts)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(model, {CARD_METADATA_KEY: card_text(card)})
    onnx.save(model, str(path))
    return doubts


def write_exported(module: Any, example: Any, card: dict, path: Path) -> List[str]:
    """``model.pt2``: see the module docstring."""
    import torch

    batch = torch.export.Dim("batch", min=1)
    program = _quietly(lambda: torch.export.export(module, (example,), dynamic_shapes=({0: batch},)))
    torch.export.save(program, str(path), extra_files={CARD_EXTRA_FILE: card_text(card)})
    return []  # torch.export refuses data-dependent control flow itself


def write_torchscript(module: Any, example: Any, card: dict, path: Path) -> List[str]:
    """``model.ts.pt``: see the module docstring. torch's own trace check is off: it reruns the
    same inputs, and ``zoo.exporting`` checks the file on other batches instead."""
    import torch

    doubts: List[str] = []
    traced = _quietly(lambda: torch.jit.trace(module, (example,), check_trace=False, _store_inputs=False), doubts)
    _quietly(lambda: torch.jit.save(traced, str(path), _extra_files={CARD_EXTRA_FILE: card_text(card)}))
    return doubts


def write_safetensors(module: Any, example: Any, card: dict, path: Path) -> List[str]:
    """``model.safetensors``: see the module docstring (the weights only: nothing is traced)."""
    from safetensors.torch import save_model

    _quietly(lambda: save_model(module, str(path), metadata={CARD_METADATA_KEY: card_text(card)}))
    return []


FORMATS = {f.name: f for f in (
    Format("onnx", "model.onnx", write_onnx),
    Format("exported", "model.pt2", write_exported),
    Format("torchscript", "model.ts.pt", write_torchscript),
    Format("safetensors", "model.safetensors", write_safetensors),
)}

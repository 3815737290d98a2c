"""Model cards: what a trained model needs beside its weights to be used without its data.

A card is plain JSON (``card_text``), written into every best checkpoint (as the zip record
``<archive>/zoo/model_card.json`` beside torch's own, so it is read with ``zipfile`` and
``json`` alone, never unpickled) and into every exported file::

    {"card": "zoo-model-card/1",
     "task": "classification",
     "model": {"name": "cnn", "keys": {"in_channels": 1, "image_size": 8, "num_classes": 10, ...}},
     "classes": ["0", "1", ...],
     "input": {"channels": 1, "height": 8, "width": 8},
     "output": "scores",
     "preprocessing": {...} or null,            (zoo.preprocessing; null: the dataset's own transform)
     "versions": {"zoo": ..., "torch": ..., "python": ..., "components": {"model": {"name", "plugin",
                  "distribution", "version"}, "data": ..., "task": ...}},
     "source": {"run": "/abs/runs/quickstart/20261123-202627", "recipe": {...}, "checkpoint":
                "checkpoints/best.pt", "epoch": 7, "valid_loss": 0.03}}

``model``: the registry name and every keyword its factory was called with, so the model can be
built again (``zoo.card_models``). ``output``: "scores" are logits or log-probabilities (the
probabilities are their softmax either way). This module imports neither torch nor a plugin.
"""

from __future__ import annotations

import json
import platform
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any, Optional, Sequence

from zoo._version import __version__
from zoo.errors import UserError
from zoo.preprocessing import check as check_preprocessing
from zoo.preprocessing import shape_problem

__all__ = ["CARD_FORMAT", "CARD_RECORD", "CARD_METADATA_KEY", "CARD_EXTRA_FILE", "make_card", "card_text", "parse_card",
           "checkpoint_card", "add_to_zip", "check_outputs", "describe_classes"]

CARD_FORMAT = "zoo-model-card/1"
#: The card's record in a checkpoint's zip archive, under the archive's own folder.
CARD_RECORD = "zoo/model_card.json"
#: The key the card is stored under in formats with string metadata (ONNX, safetensors).
CARD_METADATA_KEY = "zoo_model_card"
#: The card's name among the extra files of a .pt2 or TorchScript archive.
CARD_EXTRA_FILE = "model_card.json"


def make_card(run: Any, *, model_keys: dict, classes: Sequence[str], input_shape: Sequence[int],
              preprocessing: Optional[dict], progress: dict) -> dict:
    """The card of a model trained by ``run`` (a ``zoo.task.Run``).

    ``model_keys``: the keywords the model factory was called with (its other parameters'
    defaults are added, so the card builds the same model if a default changes); ``classes``: the class
    names, output ``i`` naming class ``i``; ``input_shape``: one input's (C, H, W);
    ``preprocessing``: a ``zoo.preprocessing`` description, or None when the dataset's transform
    does not describe itself; ``progress``: where in the run the weights come from (``epoch``,
    ``valid_loss``...), added to ``source``.
    """
    channels, height, width = (int(v) for v in input_shape)
    keys = {name: p.default for name, p in run.checked["model"].entry.signature().parameters.items()
            if p.default is not p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    keys.update(model_keys)
    components = {}
    for section in ("task", "model", "data"):
        checked = run.checked.get(section)
        if checked is not None:
            provenance = checked.entry.provenance
            components[section] = {"name": checked.entry.name, "plugin": provenance.plugin,
                                   "distribution": provenance.distribution, "version": provenance.version}
    folder = run.directory if run.directory is not None else run.shared_directory
    declared = run.traits.checkpoints
    return {
        "card": CARD_FORMAT,
        "task": run.task_name,
        "model": {"name": run.section("model").get("name"), "keys": _plain(keys)},
        "classes": [str(c) for c in classes],
        "input": {"channels": channels, "height": height, "width": width},
        "output": "scores",
        "preprocessing": preprocessing,
        "versions": {"zoo": __version__, "torch": _version("torch"), "python": platform.python_version(),
                     "components": components},
        "source": dict({"run": str(Path(folder).resolve()) if folder is not None else None,
                        "recipe": _plain(run.recipe.data),
                        "checkpoint": declared.best if declared is not None else None}, **_plain(progress)),
    }


def card_text(card: dict) -> str:
    """``card`` as JSON text, keys sorted: the same card gives the same bytes."""
    return json.dumps(card, indent=2, sort_keys=True)


def parse_card(text: Any, where: str) -> dict:
    """The card in ``text`` (JSON), checked; ``zoo.UserError`` naming ``where`` for a card that
    is not JSON, lacks what zoo needs (model, classes, input), or whose preprocessing does not
    give its input shape."""
    try:
        card = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: its model card is not JSON ({exc})") from None
    problem = _card_problem(card)
    if problem:
        raise UserError(f"{where}: not a zoo model card ({problem})")
    if card["preprocessing"] is not None:
        check_preprocessing(card["preprocessing"], where)
        shape = card["input"]
        problem = shape_problem(card["preprocessing"], (shape["channels"], shape["height"], shape["width"]))
        if problem:
            raise UserError(f"{where}: its model card does not hold together: {problem}")
    return card


def _card_problem(card: Any) -> str:
    if not isinstance(card, dict) or card.get("card") != CARD_FORMAT:
        return f"expected \"card\": \"{CARD_FORMAT}\""
    for key in ("model", "classes", "input", "preprocessing"):
        if key not in card:
            return f"no {key!r}"
    if not isinstance(card["classes"], list) or not card["classes"]:
        return "'classes' must be a non-empty list"
    shape = card["input"]
    if not isinstance(shape, dict) or not all(isinstance(shape.get(k), int) for k in ("channels", "height", "width")):
        return "'input' must hold the integers channels, height and width"
    if not isinstance(card["model"], dict) or not isinstance(card["model"].get("name"), str):
        return "'model' must hold a 'name'"
    return ""


def checkpoint_card(path: Path) -> Optional[dict]:
    """The card recorded in the checkpoint at ``path``, or None when it has none (a checkpoint
    saved before zoo wrote cards). Read from the zip archive, nothing unpickled."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/" + CARD_RECORD)]
            if not names:
                return None
            text = archive.read(names[0]).decode("utf-8")
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError):
        return None
    return parse_card(text, str(path))


def add_to_zip(archive: Any, card: dict) -> None:
    """Append ``card`` as a record to the zip archive in the binary file object ``archive``
    (positioned anywhere; torch's archive folder is kept)."""
    archive.seek(0)
    with zipfile.ZipFile(archive, "a") as z:
        folder = z.namelist()[0].split("/")[0]
        z.writestr(f"{folder}/{CARD_RECORD}", card_text(card))


def check_outputs(card: dict, num_outputs: Any, where: str, input_shape: Optional[Sequence] = None) -> None:
    """Refuse (``zoo.UserError`` naming ``where``) a card that does not match its model: the
    model gives ``num_outputs`` scores per image (None: unknown), and takes inputs of
    ``input_shape`` (C, H, W; None entries or None: not fixed)."""
    classes = card["classes"]
    if isinstance(num_outputs, int) and num_outputs != len(classes):
        raise UserError(f"{where}: its model card does not match the model: the card names "
                        f"{describe_classes(classes)} but the model gives {num_outputs} scores per image")
    expected = (card["input"]["channels"], card["input"]["height"], card["input"]["width"])
    if input_shape is not None:
        for name, want, have in zip(("channels", "height", "width"), expected, input_shape):
            if isinstance(have, int) and have != want:
                raise UserError(f"{where}: its model card does not match the model: the card says "
                                f"{'x'.join(map(str, expected))} inputs but the model takes {have} {name}")


def describe_classes(classes: Sequence[str], shown: int = 6) -> str:
    """``10 classes [0, 1, 2, 3, 4, 5, ... (10 in all)]``, for messages."""
    names = [str(c) for c in classes]
    listed = ", ".join(names[:shown]) + (f", ... ({len(names)} in all)" if len(names) > shown else "")
    return f"{len(names)} classes [{listed}]"


def _version(distribution: str) -> Optional[str]:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and anything JSON can't hold as its string."""
    return json.loads(json.dumps(value, default=str))

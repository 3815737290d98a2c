"""Models from their cards: built through the registries, their weights loaded and checked.

A card (``zoo.model_card``) names the model's registry name and every key its factory took,
so the same architecture can be built again anywhere the plugin is installed; the weights then
come from the checkpoint or exported file, never from the factory's own pretrained files.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from zoo.errors import UserError
from zoo.model_card import check_outputs

__all__ = ["model_from_card", "load_weights", "check_card_fits", "torch_scores", "card_model"]


def model_from_card(registries: Any, card: dict, where: str) -> Any:
    """The model ``card`` describes, built by its registered factory (``registries``: a
    ``zoo.registry.Registries``), on the CPU in eval mode, with untrained weights.

    A factory taking ``pretrained`` gets False and one taking ``weights`` gets None: the
    weights come from the caller, so nothing is read or downloaded. Raises ``zoo.UserError``
    naming ``where`` when the name is not registered here or the factory refuses the keys.
    """
    name = card["model"]["name"]
    try:
        entry = registries.models.get(name)
    except UserError as exc:
        raise UserError(f"{where}: its model card names model {name!r}, which is not installed here: {exc}") from None
    keys = dict(card["model"].get("keys") or {})
    parameters = inspect.signature(entry.load()).parameters
    if "pretrained" in parameters:
        keys["pretrained"] = False
    if "weights" in parameters:
        keys["weights"] = None
    try:
        model = entry.create(**keys)
    except (UserError, TypeError, ValueError) as exc:
        raise UserError(f"{where}: model {name!r} cannot be built from its model card's keys: {exc}") from None
    return model.eval()


def load_weights(model: Any, state: Any, card: dict, where: str) -> Any:
    """``model`` with ``state`` (a state dict) loaded strictly; ``zoo.UserError`` naming
    ``where`` and what differs when the weights do not fit the model the card describes."""
    from zoo.checkpoints import mismatch

    if not isinstance(state, dict):
        raise UserError(f"{where}: no model weights in it (expected a state dict)")
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError):
        raise UserError(f"{where}: its weights do not fit model {card['model']['name']!r} as its model card "
                        f"describes it ({mismatch(model.state_dict(), state)})") from None
    return model


def check_card_fits(scores: Callable, card: dict, where: str) -> None:
    """Push one blank image of the card's input shape through ``scores`` (a float32 numpy batch
    B×C×H×W -> B×K scores) and refuse (``zoo.UserError``) a card whose input shape or classes
    the model does not match."""
    import numpy as np

    shape = (1, card["input"]["channels"], card["input"]["height"], card["input"]["width"])
    try:
        out = scores(np.zeros(shape, dtype=np.float32))
    except Exception as exc:
        raise UserError(f"{where}: its model card does not match the model: a {'x'.join(map(str, shape[1:]))} "
                        f"input fails ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    if out.ndim != 2:
        raise UserError(f"{where}: the model gives outputs of shape {tuple(out.shape)} for one image, "
                        f"not one score per class")
    check_outputs(card, int(out.shape[1]), where)


def torch_scores(module: Any, device: Any = "cpu") -> Callable:
    """A function from a float32 numpy batch B×C×H×W to ``module``'s float32 numpy scores B×K,
    computed on ``device`` without gradients. ``module`` is in eval mode already (a
    ``torch.export`` module cannot be switched); it is moved to a ``device`` other than the CPU."""
    import numpy as np
    import torch

    if str(device) != "cpu":
        module = module.to(device)

    def scores(batch: Any) -> Any:
        with torch.inference_mode():
            out = module(torch.from_numpy(np.ascontiguousarray(batch)).to(device))
        return out.float().cpu().numpy()

    return scores


def card_model(registries: Any, card: dict, state: Any, where: str) -> Any:
    """The model ``card`` describes with the weights ``state`` (a state dict), checked against
    the card (input shape, one score per class): ``model_from_card``, ``load_weights`` and
    ``check_card_fits`` in one call. On the CPU, in eval mode; ``zoo.UserError`` naming ``where``."""
    model = load_weights(model_from_card(registries, card, where), state, card, where)
    check_card_fits(torch_scores(model), card, where)
    return model

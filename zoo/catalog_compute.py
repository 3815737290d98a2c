"""Computing catalog cards without weights: build on the meta device, count, trace the FLOPs.

A model is built by its registered factory (without pretrained weights) under
``torch.device("meta")``: its tensors have shapes but no memory and no initialisation, so even
a billion-parameter model builds in a fraction of a second. Then

- ``params``: the sum of its parameters' sizes;
- ``gmacs``: ``torch.utils.flop_counter.FlopCounterMode`` counts the FLOPs of one forward pass
  of a meta tensor of the card's input size (batch 1); multiply-adds are half the FLOPs;
- ``features``: the inputs of the head a new head replaces (the module the factory names as
  ``zoo_head``, else the last ``Linear``).

A figure that cannot be computed (a factory that computes with tensor values while it builds,
an operation the meta device lacks) is left out -- unknown -- and the reason kept. This module
uses torch only (never torchvision or timm): the plugins' factories do the building.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Iterable, Optional

from zoo.catalog_cards import CardStore
from zoo.errors import Interrupted


def _problem(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def weightless_keys(entry: Any) -> dict:
    """The keys that make ``entry``'s factory build without pretrained weights."""
    parameters = entry.signature().parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    return {"pretrained": False} if "pretrained" in parameters or takes_any else {}


def head_features(model: Any) -> Optional[int]:
    """The input width of ``model``'s head: its ``zoo_head`` module's (the first, when several),
    else its last ``Linear``'s; None when neither is found."""
    from torch import nn

    names = getattr(model, "zoo_head", None)
    names = (names,) if isinstance(names, str) else tuple(names or ())
    for name in names:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            continue
        layers = [module] + [m for m in module.modules() if m is not module]
        for layer in layers:
            if isinstance(layer, nn.Linear):
                return int(layer.in_features)
            if isinstance(layer, nn.modules.conv._ConvNd):
                return int(layer.in_channels)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return int(linears[-1].in_features) if linears else None


def compute_card(entry: Any, input_size: Optional[list]) -> tuple:
    """``(card, problem)`` for ``entry`` (a ``zoo.registry.Entry``): the figures computed on the
    meta device at ``input_size`` (``[C, H, W]``; None: no multiply-adds), and why a figure is
    missing (None when none is)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from zoo.commands.info import training_warnings_hidden

    entry.load()  # the factory's module is imported with real tensors: only the model goes on the meta device
    try:
        with training_warnings_hidden(), torch.device("meta"):
            model = entry.create(**weightless_keys(entry))
    except Exception as exc:  # the factory cannot build on the meta device
        return {}, f"building on the meta device: {_problem(exc)}"
    if not isinstance(model, torch.nn.Module):
        return {}, f"its factory built a {type(model).__name__}, not a torch.nn.Module"
    card: dict = {"params": int(sum(p.numel() for p in model.parameters()))}
    features = head_features(model)
    if features is not None:
        card["features"] = features
    if not input_size:
        return card, "no input size: multiply-adds not counted"
    try:
        model.eval()
        # with gradients on: the counter's module hooks need them, and on the meta device they cost no memory
        with training_warnings_hidden(), FlopCounterMode(display=False) as counter:
            model(torch.empty(1, *input_size, device="meta"))
        card["gmacs"] = float(f"{counter.get_total_flops() / 2e9:.6g}")
    except Exception as exc:  # an operation the meta device or the FLOP counter cannot run
        return card, f"counting multiply-adds: {_problem(exc)}"
    return card, None


def compute_cards(registry: Any, work: Iterable[tuple], *, keys: Optional[dict] = None, progress: bool = True) -> dict:
    """Compute the cards of ``work`` (``(source, name, input_size)`` triples, ``name`` as
    ``registry`` (the models registry) resolves it) that their source's store lacks; save them as
    they come, each source's under its key in ``keys`` (``{source: key}``, see
    ``zoo.catalog_cards``). Returns ``{"computed": n, "already": n, "seconds": s}``.

    Ctrl-C keeps what was computed and raises ``zoo.errors.Interrupted`` saying how to go on.
    """
    from tqdm import tqdm

    by_source: dict = {}
    for source, name, input_size in work:
        by_source.setdefault(source, []).append((name, input_size))
    stores = {source: CardStore(source, (keys or {}).get(source, "")) for source in by_source}
    todo = [(s, n, size) for s, items in by_source.items() for n, size in items if not stores[s].done(n)]
    already = sum(len(items) for items in by_source.values()) - len(todo)
    started = time.monotonic()
    computed = 0
    bar = tqdm(total=len(todo), unit="model", desc="computing cards", disable=not progress or not todo,
               dynamic_ncols=True)
    try:
        for source in by_source:
            with stores[source] as store:
                for name, input_size in [(n, size) for s, n, size in todo if s == source]:
                    bar.set_postfix_str(name, refresh=False)
                    card, problem = compute_card(registry.get(name), input_size)
                    store.add(name, card, problem)
                    computed += 1
                    bar.update(1)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {computed} of {len(todo)} cards computed and saved; "
                          f"the same command goes on from there") from None
    finally:
        bar.close()
    return {"computed": computed, "already": already, "seconds": time.monotonic() - started}

"""The list of torchvision classification models, each with the figures its weights' meta publishes.

torchvision publishes, for every weights enum member (``ResNet50_Weights.IMAGENET1K_V2``): the
parameter count, ImageNet-1K acc@1 and acc@5, the multiply-adds (``_ops``: torchvision calls
them GFLOPS, but counts one per multiply-add: resnet18's 1.81 is 1.81 GMACs), the file size
in MB, and the evaluation transform (crop size, mean, std). No license is published.
"""

import inspect
import math

import torchvision.models as tv_models


def _transform_figures(weights) -> dict:
    """``input_size``, ``mean`` and ``std`` of ``weights``' evaluation transform (its crop)."""
    transforms = weights.transforms
    keywords = dict(getattr(transforms, "keywords", {}) or {})
    func = getattr(transforms, "func", transforms)
    try:
        defaults = {k: p.default for k, p in inspect.signature(func).parameters.items()
                    if p.default is not inspect.Parameter.empty}
    except (TypeError, ValueError):
        defaults = {}
    settings = {**defaults, **keywords}
    figures = {}
    crop = settings.get("crop_size")
    if isinstance(crop, int):
        figures["input_size"] = [3, crop, crop]
    elif isinstance(crop, (list, tuple)) and len(crop) == 2:
        figures["input_size"] = [3, *crop]
    for key in ("mean", "std"):
        if isinstance(settings.get(key), (list, tuple)):
            figures[key] = [float(v) for v in settings[key]]
    return figures


def weights_figures(weights) -> dict:
    """The card figures one weights enum member publishes (absent where its meta has none, or a
    figure that is not a finite number: vgg16's IMAGENET1K_FEATURES has acc@1 NaN)."""
    meta = weights.meta
    figures = _transform_figures(weights)
    metrics = meta.get("_metrics", {}).get("ImageNet-1K", {})
    for ours, value in (("params", meta.get("num_params")), ("gmacs", meta.get("_ops")),
                        ("top1", metrics.get("acc@1")), ("top5", metrics.get("acc@5")),
                        ("file_mb", meta.get("_file_size"))):
        if isinstance(value, (int, float)) and math.isfinite(value):
            figures[ours] = value
    if meta.get("categories"):
        figures["num_classes"] = len(meta["categories"])
    return figures


def architecture_metadata(name: str) -> dict:
    """``{"card": ..., "pretrained_tags": {tag: figures that differ}}`` of model ``name``: the card
    holds the default weights' figures; tags are the weights' names in lowercase (``imagenet1k_v2``),
    each with the figures that differ from the default's, None for one the default publishes and
    the tag does not (unknown, not the default's: vgg16's IMAGENET1K_FEATURES has no classes)."""
    try:
        enum = tv_models.get_model_weights(name)
    except (ValueError, AttributeError):  # a builder without weights
        return {"card": {"pretrained": False, "tags": 0}}
    members = list(enum)
    default = enum.DEFAULT
    published = weights_figures(default)
    card = {**published, "pretrained": True, "tag": default.name.lower(), "tags": len(members)}
    per_tag = {}
    for weights in members:
        figures = weights_figures(weights)
        per_tag[weights.name.lower()] = {**{k: None for k in published if k not in figures},
                                         **{k: v for k, v in figures.items() if published.get(k) != v}}
    return {"card": card, "pretrained_tags": per_tag}


def describe(name: str, card: dict) -> str:
    """``"torchvision resnet18, 11.7M params; ImageNet-1K top-1 69.8% (imagenet1k_v1)"`` from its card."""
    parts = [f"torchvision {name}"]
    if not card.get("pretrained"):
        return f"torchvision {name} (no pretrained weights)"
    if card.get("params"):
        parts.append(f"{card['params'] / 1e6:.1f}M params")
    summary = ", ".join(parts)
    if card.get("top1") is not None:
        summary += f"; ImageNet-1K top-1 {card['top1']:.1f}% ({card['tag']})"
    return summary


def list_models() -> list:
    """``[(name, summary, metadata)]`` for ``torchvision.models.list_models(module=torchvision.models)``."""
    described = []
    for name in tv_models.list_models(module=tv_models):
        metadata = architecture_metadata(name)
        described.append((name, describe(name, metadata["card"]), metadata))
    return described

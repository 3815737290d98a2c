"""The list of torchvision classification models with a one-line summary each."""

import torchvision.models as tv_models


def describe(name: str) -> str:
    """``"resnet18: 11.7M params; ImageNet-1K top-1 69.8% (IMAGENET1K_V1)"`` from the default weights' meta."""
    try:
        weights = tv_models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):  # a builder without weights
        return f"torchvision {name} (no pretrained weights)"
    meta = weights.meta
    parts = [f"torchvision {name}"]
    if meta.get("num_params"):
        parts.append(f"{meta['num_params'] / 1e6:.1f}M params")
    top1 = meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
    if top1 is not None:
        parts.append(f"ImageNet-1K top-1 {top1:.1f}% ({weights.name})")
    return ", ".join(parts[:2]) + ("; " + parts[2] if len(parts) > 2 else "")


def list_models() -> list:
    """``[(name, summary)]`` for ``torchvision.models.list_models(module=torchvision.models)``."""
    return [(name, describe(name)) for name in tv_models.list_models(module=tv_models)]

"""The ``timm/<name>`` factory."""

from pathlib import Path
from typing import Any, Optional

from zoo import UserError
from zoo.toolkit import load_state_dict
from zoo_timm.pretrained import find_pretrained


def _pretrained_cfg(name: str) -> Any:
    import timm.models

    return timm.models.get_pretrained_cfg(name, allow_unregistered=True)


def create_model(
    name: str,
    pretrained: bool = False,
    weights: Optional[str] = None,
    num_classes: Optional[int] = None,
    in_channels: Optional[int] = None,
    tag: Optional[str] = None,
    **kwargs: Any,
) -> Any:
    """A timm architecture (timm.create_model), optionally with pretrained weights found offline.

    pretrained: load the architecture's default (or `tag`'s) pretrained weights from the local
        Hugging Face cache or $TORCH_HOME/hub/checkpoints, hash-checked, tensors only;
        downloaded only when there is network and ZOO_OFFLINE / HF_HUB_OFFLINE are not set.
    weights: a local .pt/.pth/.bin/.safetensors file to load instead (implies pretrained).
    num_classes: outputs of the classifier (default: the weights' classes, usually 1000);
        when it differs from the weights' the classifier keeps a fresh initialisation.
    in_channels: input channels (default 3); pretrained stem weights are adapted by timm.
    tag: a pretrained tag, e.g. "a1_in1k" for resnet18.a1_in1k (default: timm's first).
    Other keys go to timm.create_model (drop_rate, drop_path_rate, global_pool, ...).
    The model's zoo_head names its classifier (the optimizer's `params: head` uses it).
    """
    import timm

    full_name = f"{name}.{tag}" if tag else name
    label = f"timm/{full_name}"
    build = dict(kwargs)
    if num_classes is not None:
        build["num_classes"] = num_classes
    if in_channels is not None:
        build["in_chans"] = in_channels
    if pretrained or weights is not None:
        cfg = _pretrained_cfg(full_name)
        path = Path(weights).expanduser() if weights is not None else find_pretrained(cfg, label)
        state = load_state_dict(path)
        # timm applies its own filters (checkpoint remaps, stem channel adaptation, classifier
        # reset when num_classes differs) to a state dict handed over in the pretrained cfg.
        overlay = {"state_dict": state, "source": "", "file": None}
        classes = _file_classes(cfg, state)
        if classes is not None:  # a fine-tuned file keeps its head when num_classes matches it
            overlay["num_classes"] = classes
        build["pretrained_cfg_overlay"] = overlay
        try:
            model = timm.create_model(full_name, pretrained=True, **build)
        except RuntimeError as exc:
            raise UserError(f"weights file {path} does not fit {label}: {' '.join(str(exc).split())[:300]}") from exc
        finally:
            build.pop("pretrained_cfg_overlay", None)
        for attr in ("pretrained_cfg", "default_cfg"):
            cfg_dict = getattr(model, attr, None)
            if isinstance(cfg_dict, dict):
                cfg_dict.pop("state_dict", None)  # do not keep a second copy of the weights alive
        model.zoo_weights = {"source": str(path)}
    else:
        try:
            model = timm.create_model(full_name, pretrained=False, **build)
        except RuntimeError as exc:
            raise UserError(f"model {label}: {' '.join(str(exc).split())[:300]}") from exc
    head = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    heads = (head,) if isinstance(head, str) else tuple(head or ())
    heads = [h for h in heads if _resolves(model, h)]
    if heads:  # the optimizer's ``params: head`` trains these: one name as a str, several as a tuple
        model.zoo_head = heads[0] if len(heads) == 1 else tuple(heads)
    return model


def _file_classes(cfg: Any, state: dict) -> Optional[int]:
    """How many classes the weights file's classifier has (None when the cfg names no single classifier)."""
    classifier = getattr(cfg, "classifier", None)
    weight = state.get(f"{classifier}.weight") if isinstance(classifier, str) else None
    return int(weight.shape[0]) if weight is not None and weight.ndim >= 1 else None


def _resolves(model: Any, path: str) -> bool:
    try:
        module = model.get_submodule(path)
    except AttributeError:
        return False
    return any(True for _ in module.parameters())

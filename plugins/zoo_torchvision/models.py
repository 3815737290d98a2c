"""The ``torchvision/<name>`` factory."""

from typing import Any, Optional

from torch import nn

from zoo import UserError
from zoo.toolkit import adapt_input_channels, apply_state_dict
from zoo_torchvision import pretrained as tv_pretrained
from zoo_torchvision.head import head_prefixes

AUX_MODULES = ("AuxLogits", "aux1", "aux2")  # inception_v3, googlenet


def weights_build_arguments(name: str, weights_enum: Any) -> dict:
    """The builder arguments torchvision sets itself when it loads ``name``'s pretrained weights.

    (torchvision's builders override these when ``weights=`` is given: the checkpoints were
    trained with them. Only the models listed here do so.)
    """
    if name in ("googlenet", "inception_v3"):
        return {"transform_input": True, "aux_logits": True, "init_weights": False}
    if name.startswith("vit_"):
        return {"image_size": weights_enum.meta["min_size"][0]}
    if name.startswith("maxvit_"):
        return {"input_size": weights_enum.meta["min_size"]}
    return {}


def _drop_aux_heads(model: nn.Module) -> None:
    """Turn off the auxiliary classifiers (so the model returns one tensor in training too)."""
    model.aux_logits = False
    for attr in AUX_MODULES:
        if getattr(model, attr, None) is not None:
            setattr(model, attr, None)


def create_model(
    name: str,
    pretrained: Optional[bool] = None,
    weights: Optional[str] = None,
    num_classes: Optional[int] = None,
    in_channels: int = 3,
    **kwargs: Any,
) -> nn.Module:
    """A torchvision classification model, optionally with pretrained weights and a new head.

    The name may carry the weights' tag: torchvision/resnet50.imagenet1k_v2 is resnet50 with
    torchvision's ResNet50_Weights.IMAGENET1K_V2 (`zoo list models --pretrained` lists them all).
    pretrained: load the default (or the tag's) ImageNet weights from torch.hub's cache
        ($TORCH_HOME/hub/checkpoints/<torchvision file name>), hash-checked, tensors only;
        downloaded only when there is network and ZOO_OFFLINE is not set. Default: true for a
        name with a tag, else false.
    weights: a local .pt/.pth/.safetensors file to load instead (implies pretrained).
    num_classes: outputs of the classifier (default: the weights' 1000 ImageNet classes).
    in_channels: input channels; other than 3, the first conv is replaced and its (pretrained)
        weights summed (1 channel) or repeated (more).
    Other keys go to the torchvision builder (e.g. dropout, aux_logits).

    How the head is replaced: the model is built with ``num_classes`` directly (torchvision's
    builders take it), the pretrained file is loaded strictly except for the modules whose
    shapes depend on the class count (found by building the same model on the meta device
    with another count), which keep their fresh initialisation. The model's ``zoo_head``
    names those modules (the optimizer's ``params: head`` uses it).
    """
    import torchvision.models as tv_models

    architecture, _, tag = name.partition(".")
    if pretrained is None:
        pretrained = bool(tag)
    builder = tv_models.get_model_builder(architecture)
    load = pretrained or weights is not None
    weights_enum = tv_pretrained.default_weights(name) if load else None
    user_aux = kwargs.get("aux_logits")
    build_kwargs = {}
    if load:
        build_kwargs.update(weights_build_arguments(architecture, weights_enum))
    elif architecture in ("googlenet", "inception_v3"):
        build_kwargs.update(aux_logits=False, init_weights=True)
    build_kwargs.update(kwargs)
    default_classes = len(weights_enum.meta["categories"]) if weights_enum is not None else 1000
    classes = num_classes if num_classes is not None else default_classes
    if classes < 1:
        raise UserError(f"model.num_classes: expected a positive integer; got {classes}")

    def build(k: int) -> nn.Module:
        return builder(weights=None, num_classes=k, **build_kwargs)

    state = path = None
    if load:  # read (and check) the file before building
        state, path = tv_pretrained.read_pretrained(name, weights, label=f"torchvision/{name}")
    try:
        model = build(classes)
    except TypeError as exc:
        raise UserError(f"model torchvision/{name}: {exc}") from exc
    head = head_prefixes(build, model, classes)
    if state is not None:
        report = apply_state_dict(model, state, replaced=head if classes != default_classes else (), source=path)
        model.zoo_weights = report.as_dict()
        if architecture in ("googlenet", "inception_v3") and not user_aux:
            _drop_aux_heads(model)
    if in_channels != 3:
        try:
            adapt_input_channels(model, in_channels)
        except ValueError as exc:
            raise UserError(f"model torchvision/{name}: in_channels={in_channels}: {exc}") from exc
        if getattr(model, "transform_input", False):  # Inception's RGB re-normalisation needs 3 channels
            model.transform_input = False
    heads = [p for p in head if _resolves(model, p)]
    if heads:  # the optimizer's ``params: head`` trains these: one name as a str, several as a tuple
        model.zoo_head = heads[0] if len(heads) == 1 else tuple(heads)
    return model


def _resolves(model: nn.Module, path: str) -> bool:
    try:
        return model.get_submodule(path) is not None
    except AttributeError:
        return False

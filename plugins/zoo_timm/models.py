"""The ``timm/<name>`` factory."""

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from zoo import UserError
from zoo.toolkit import apply_state_dict, load_state_dict
from zoo_timm.pretrained import find_pretrained


def _pretrained_cfg(name: str) -> Any:
    import timm.models

    return timm.models.get_pretrained_cfg(name, allow_unregistered=True)


def create_model(
    name: str,
    pretrained: Optional[bool] = None,
    weights: Optional[str] = None,
    num_classes: Optional[int] = None,
    in_channels: Optional[int] = None,
    tag: Optional[str] = None,
    **kwargs: Any,
) -> Any:
    """A timm architecture (timm.create_model), optionally with pretrained weights found offline.

    The name may carry a pretrained tag: timm/resnet50.a1_in1k is resnet50 with the a1_in1k
    weights (`zoo list models --pretrained` lists them all).
    pretrained: load the architecture's default (or the tag's) pretrained weights from the local
        Hugging Face cache or $TORCH_HOME/hub/checkpoints, hash-checked, tensors only;
        downloaded only when there is network and ZOO_OFFLINE / HF_HUB_OFFLINE are not set.
        Default: true for a name with a tag, else false.
    weights: a local .pt/.pth/.bin/.safetensors file to load instead (implies pretrained).
    num_classes: outputs of the classifier (default: the weights' classes, usually 1000);
        when it differs from the weights' the classifier keeps a fresh initialisation. Every
        other tensor must come from the weights with its shape: a file missing one, or holding
        one the model doesn't have, is a UserError naming them.
    in_channels: input channels (default 3); pretrained stem weights are adapted by timm.
    tag: a pretrained tag, e.g. "a1_in1k" (the older spelling of timm/resnet18.a1_in1k;
        default: timm's first).
    Other keys go to timm.create_model (drop_rate, drop_path_rate, global_pool, ...).
    The model's zoo_head names its classifier (the optimizer's `params: head` uses it).
    """
    import timm

    architecture, _, named_tag = name.partition(".")
    if tag and named_tag and tag != named_tag:
        raise UserError(f"model timm/{name}: tag: {tag} contradicts the name's tag {named_tag!r}; keep one of them")
    tag = tag or named_tag
    if pretrained is None:
        pretrained = bool(named_tag)
    full_name = f"{architecture}.{tag}" if tag else architecture
    label = f"timm/{full_name}"
    build = dict(kwargs)
    if num_classes is not None:
        build["num_classes"] = num_classes
    if in_channels is not None:
        build["in_chans"] = in_channels
    if pretrained or weights is not None:
        cfg = _pretrained_cfg(full_name)
        path = Path(weights).expanduser() if weights is not None else find_pretrained(cfg, label)
        model = _create_pretrained(full_name, label, cfg, path, build)
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


def _create_pretrained(full_name: str, label: str, cfg: Any, path: Path, build: dict) -> Any:
    """timm's model with the weights file ``path`` loaded, every tensor checked.

    timm applies its own filters to the file's state dict (checkpoint remaps, stem channel
    adaptation, the classifier dropped when ``num_classes`` differs) and then loads it leniently
    whenever it dropped something. The state dict timm hands to ``load_state_dict`` is caught
    on its way in, and loaded again through ``zoo.toolkit.apply_state_dict``: strict, except the
    classifier when the recipe asks for another number of classes than the file has. The
    model's ``zoo_weights`` is that load's report.
    """
    import timm

    state = load_state_dict(path)
    # timm applies its filters to a state dict handed over in the pretrained cfg.
    overlay = {"state_dict": state, "source": "", "file": None}
    classes = _file_classes(cfg, state)
    overlay.update(_overlay_classes(classes))  # a fine-tuned file keeps its head unless num_classes differs
    handed: list = []
    try:
        with _state_dicts_loaded(handed), _quiet(logging.getLogger("timm.models._builder")):
            model = timm.create_model(full_name, pretrained=True, pretrained_cfg_overlay=overlay, **build)
    except RuntimeError as exc:
        if not handed:  # timm failed before loading (a filter, the stem's channels)
            raise UserError(f"weights file {path} does not fit {label}: {' '.join(str(exc).split())[:300]}") from exc
        # timm's strict load refused what it was handed: loading that into a fresh model names the tensors at fault
        model = timm.create_model(full_name, pretrained=False, **{**_overlay_classes(classes), **build})
    classifier = getattr(cfg, "classifier", None)
    classifier = (classifier,) if isinstance(classifier, str) else tuple(classifier or ())
    fresh = classifier if classes is None or build.get("num_classes", classes) != classes else ()
    report = apply_state_dict(model, handed[-1] if handed else state, replaced=fresh, source=path)
    for attr in ("pretrained_cfg", "default_cfg"):
        cfg_dict = getattr(model, attr, None)
        if isinstance(cfg_dict, dict):
            cfg_dict.pop("state_dict", None)  # do not keep a second copy of the weights alive
    model.zoo_weights = report.as_dict()
    return model


@contextmanager
def _state_dicts_loaded(handed: list) -> Iterator[list]:
    """While the block runs, append to ``handed`` every state dict given whole to a module's
    ``load_state_dict`` (torch's load pre-hooks, put on each module as it gains children)."""
    from torch.nn.modules.module import register_module_module_registration_hook

    hooked: dict = {}  # id -> module, held so that no id is reused while the block runs
    handles: list = []

    def catch(module, state_dict, prefix, *_):
        if prefix == "":
            handed.append(state_dict)

    def on_child(parent, name, child):
        if id(parent) not in hooked:
            hooked[id(parent)] = parent
            handles.append(parent.register_load_state_dict_pre_hook(catch))

    registration = register_module_module_registration_hook(on_child)
    try:
        yield handed
    finally:
        registration.remove()
        for handle in handles:
            handle.remove()


@contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """``logger``'s warnings silenced while the block runs (what timm notes while loading, zoo
    checks itself and says in its own words)."""
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _overlay_classes(classes: Optional[int]) -> dict:
    """``{"num_classes": classes}`` when the file's classifier has ``classes`` outputs, else ``{}``."""
    return {} if classes is None else {"num_classes": classes}


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

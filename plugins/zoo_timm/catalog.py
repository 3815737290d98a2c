"""The list of timm architectures, each with the figures timm publishes for it and its tags.

timm's pretrained configs carry, for every tag (``resnet50.a1_in1k``): the input size, mean and
std, the license and the number of classes. timm publishes no parameter counts, multiply-adds
or accuracies in the package: zoo computes the first two (``zoo list models --compute-cards``)
and leaves the accuracy unknown.
"""

from collections import defaultdict

import timm
import timm.models

# figures of a pretrained config that are card columns, as zoo names them
CARD_FIELDS = (("input_size", "input_size"), ("mean", "mean"), ("std", "std"), ("num_classes", "num_classes"))


def published_figures(cfg, *, weights: bool) -> dict:
    """The card figures of one timm pretrained config (a ``PretrainedCfg``); ``weights``: whether
    it names real weights (only then is its license the weights' license)."""
    figures = {}
    for ours, theirs in CARD_FIELDS:
        value = getattr(cfg, theirs, None)
        if value is not None:
            figures[ours] = list(value) if isinstance(value, (tuple, list)) else value
    if weights and getattr(cfg, "license", None):
        figures["license"] = cfg.license
    return figures


def differing(default: dict, figures: dict) -> dict:
    """The figures of a tag (``figures``) that differ from the default tag's (``default``), with
    None for each figure the default has and the tag lacks."""
    return {**{k: None for k in default if k not in figures},
            **{k: v for k, v in figures.items() if default.get(k) != v}}


def architecture_metadata(name: str, tags: list) -> dict:
    """``{"card": ..., "pretrained_tags": {tag: figures that differ from the card}}`` of one architecture.

    The card holds the default config's figures (timm's first tag), whether weights exist, the
    default tag and how many tags there are; a tag's figures hold None for one the default
    publishes and the tag does not (it is unknown, not the default's).
    """
    default = timm.models.get_pretrained_cfg(f"{name}.{tags[0]}" if tags else name)
    card = published_figures(default, weights=bool(tags)) if default is not None else {}
    published = dict(card)
    card.update(pretrained=bool(tags), tags=len(tags))
    if tags:
        card["tag"] = tags[0]
    described = {"card": card}
    if tags:
        per_tag = {}
        for tag in tags:
            cfg = timm.models.get_pretrained_cfg(f"{name}.{tag}")
            figures = published_figures(cfg, weights=True) if cfg is not None else {}
            per_tag[tag] = differing(published, figures)
        described["pretrained_tags"] = per_tag
    return described


def list_models() -> list:
    """``[(name, summary, metadata)]`` for ``timm.list_models()``: the summary names the pretrained
    tags, the metadata holds the published figures (``architecture_metadata``)."""
    tags = defaultdict(list)
    for full in timm.list_models(pretrained=True):
        architecture, _, tag = full.partition(".")
        tags[architecture].append(tag)
    described = []
    for name in timm.list_models():
        found = tags.get(name, [])
        if not found:
            summary = f"timm {name} (no pretrained weights)"
        elif len(found) == 1:
            summary = f"timm {name} (pretrained: {found[0]})"
        else:
            summary = f"timm {name} (pretrained: {found[0]} and {len(found) - 1} more tags)"
        described.append((name, summary, architecture_metadata(name, found)))
    return described

"""The list of timm architectures with a one-line summary each."""

from collections import defaultdict

import timm


def list_models() -> list:
    """``[(name, summary)]`` for ``timm.list_models()``; the summary names the pretrained tags."""
    tags = defaultdict(list)
    for full in timm.list_models(pretrained=True):
        architecture, _, tag = full.partition(".")
        tags[architecture].append(tag)
    described = []
    for name in timm.list_models():
        found = tags.get(name)
        if not found:
            summary = f"timm {name} (no pretrained weights)"
        elif len(found) == 1:
            summary = f"timm {name} (pretrained: {found[0]})"
        else:
            summary = f"timm {name} (pretrained: {found[0]} and {len(found) - 1} more tags)"
        described.append((name, summary))
    return described

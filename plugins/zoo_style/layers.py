"""VGG-19 layer names, in the order of torchvision's ``vgg19().features``.

``LAYER_NAMES[i]`` is the name of ``features[i]``: ``conv{block}_{n}``, ``relu{block}_{n}`` and
``pool{block}``. This module imports nothing heavy so recipes can be checked without torch.
"""

from __future__ import annotations

from typing import Iterable

from zoo import UserError

# (block, number of 3x3 convolutions, output channels) for VGG-19 ("configuration E").
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))


def _layer_names() -> tuple:
    names = []
    for block, convs, _ in BLOCKS:
        for n in range(1, convs + 1):
            names += [f"conv{block}_{n}", f"relu{block}_{n}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES = _layer_names()
LAYER_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}
CONV_LAYERS = tuple(n for n in LAYER_NAMES if n.startswith("conv"))

# Gatys et al.: content from conv4_2, style from the first convolution of every block.
PAPER_CONTENT_LAYER = "conv4_2"
PAPER_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")

# beta in total = alpha*content + beta*style, both relative errors (see zoo_style.transfer);
# large enough that the default run shows the style clearly with random weights as well.
DEFAULT_STYLE_WEIGHT = 1e3


def check_layers(names: Iterable[str], key: str) -> list:
    """Return ``names`` as a list when every one is a VGG-19 layer; else raise UserError.

    ``key`` names the recipe key or argument the names came from (for the message), e.g.
    ``"task.style_layers"``. The message lists the valid names.
    """
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in LAYER_INDEX]
    if unknown:
        raise UserError(
            f"{key}: unknown VGG-19 layer {', '.join(repr(n) for n in unknown)}; "
            f"valid layers: {', '.join(LAYER_NAMES)}"
        )
    if not names:
        raise UserError(f"{key}: no layer given; valid layers: {', '.join(LAYER_NAMES)}")
    return names

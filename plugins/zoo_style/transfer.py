"""Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016) as one function, ``stylize``.

The image is optimised directly: its VGG-19 activations at ``content_layer`` should match the
content picture's, and the Gram matrices of its activations at ``style_layers`` the style
picture's. The two losses are relative errors, so their size does not depend on the network's
weights (pretrained or random), the layer or the image size:

    content = ||F(x) - F(c)||^2 / ||F(c)||^2                         at content_layer
    style   = sum_l w_l ||G_l(x) - G_l(s)||^2 / ||G_l(s)||^2          over style_layers
    total   = content_weight * content + style_weight * style

The network may compute in bfloat16 (``precision``), while the image, the Gram matrices, the
losses and LBFGS stay in float32; the optimisation reached the same loss as in float32 in our runs.
With AMX its convolutions run much faster than in float32; with AVX512-BF16 alone they may run
faster or slower (on this repository's 2-core test CPU: 0.5x the time in one session, 1.7x in
another), so ``precision: auto`` measures one evaluation in each and keeps the faster.
Targets are computed once, without gradients. The optimiser works on the mean-centred image
(so no normalisation runs per step). Pixels are kept in [0, 1] by evaluating the losses on the
clamped image (gradient included), and the result is that clamped image. The PyTorch tutorial
instead clamps the optimised tensor in place inside the LBFGS closure; that changes the point
LBFGS believes it evaluated, spoils its curvature pairs and, in our runs (random weights,
128 px), made the loss climb a hundredfold after ~50 steps; clamped inside the objective it kept falling.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from zoo import UserError
from zoo_style.layers import DEFAULT_STYLE_WEIGHT, PAPER_CONTENT_LAYER, PAPER_STYLE_LAYERS, check_layers
from zoo_style.losses import content_loss, gram_matrix, style_loss
from zoo_style.vgg import VGG19Features

__all__ = ["stylize", "StyleResult", "gram_matrix", "style_layer_weights", "DEFAULT_STYLE_WEIGHT"]

DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}

PRECISIONS = ("auto", "float32", "bfloat16")

StyleLayers = Union[Mapping[str, float], Sequence[str], None]
Callback = Callable[[int, dict, Tensor], None]


@dataclass
class StyleResult:
    """What ``stylize`` gives back.

    ``image``: the stylised image, 1×3×H×W in [0, 1] (on the device it was computed on);
    ``history``: one dict per step (``step``, ``content_loss``, ``style_loss``, ``total_loss``);
    ``steps``: loss-and-gradient evaluations done; ``seconds_per_step``: optimisation time per
    evaluation (callbacks excluded); ``precision``: the network's dtype ("float32"/"bfloat16");
    ``content_loss``/``style_loss``/``total_loss``: the last evaluation's (content and style
    unweighted, total weighted).
    """

    image: Tensor
    history: list = field(default_factory=list)
    steps: int = 0
    seconds_per_step: float = 0.0
    precision: str = "float32"

    @property
    def content_loss(self) -> float:
        return self.history[-1]["content_loss"] if self.history else float("nan")

    @property
    def style_loss(self) -> float:
        return self.history[-1]["style_loss"] if self.history else float("nan")

    @property
    def total_loss(self) -> float:
        return self.history[-1]["total_loss"] if self.history else float("nan")


def style_layer_weights(style_layers: StyleLayers, key: str = "style_layers") -> dict:
    """``{layer: weight}`` from a mapping, a list (equal weights summing to 1) or None (the paper's five)."""
    if style_layers is None:
        style_layers = PAPER_STYLE_LAYERS
    if isinstance(style_layers, Mapping):
        check_layers(style_layers, key)
        weights = {name: float(w) for name, w in style_layers.items()}
        if any(w < 0 for w in weights.values()):
            raise UserError(f"{key}: layer weights must not be negative, got {weights}")
        return weights
    names = list(dict.fromkeys(check_layers(style_layers, key)))
    return {name: 1.0 / len(names) for name in names}


def native_bfloat16(device: torch.device) -> Optional[str]:
    """The CPU instructions that compute bfloat16 natively on ``device`` ("amx_bf16",
    "avx512_bf16"), or None (another device, or a CPU without them)."""
    if device.type != "cpu":
        return None
    capabilities = getattr(torch.cpu, "get_capabilities", lambda: {})()
    for flag in ("amx_bf16", "avx512_bf16"):
        if capabilities.get(flag):
            return flag
    return None


def compute_dtype(precision: str, device: torch.device,
                  measure: Optional[Callable[[torch.dtype], float]] = None) -> torch.dtype:
    """The network's dtype for ``precision``: "float32", "bfloat16", or "auto": bfloat16 with AMX;
    with AVX512-BF16 alone, the faster of the two by ``measure(dtype) -> seconds`` (bfloat16
    when no ``measure`` is given); float32 elsewhere."""
    if precision not in PRECISIONS:
        raise UserError(f"precision: choose one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return torch.bfloat16 if precision == "bfloat16" else torch.float32
    flag = native_bfloat16(device)
    if flag is None:
        return torch.float32
    if flag == "amx_bf16" or measure is None:
        return torch.bfloat16
    return min((torch.bfloat16, torch.float32), key=measure)


def evaluation_seconds(network: nn.Module, image: Tensor, dtype: torch.dtype, repeats: int = 2) -> float:
    """The fastest of ``repeats`` timed forward and backward passes of ``image`` through
    ``network`` computing in ``dtype`` (after one untimed pass), as one evaluation of the losses does."""
    probe = copy.deepcopy(network).to(dtype)
    best = float("inf")
    for attempt in range(repeats + 1):
        pixels = image.detach().clone().requires_grad_(True)
        started = time.perf_counter()
        sum(value.float().square().mean() for value in probe(pixels.to(dtype)).values()).backward()
        if attempt:
            best = min(best, time.perf_counter() - started)
    return best


def _check_image(image: Tensor, name: str) -> Tensor:
    if not isinstance(image, Tensor) or image.dim() not in (3, 4) or image.shape[-3] != 3:
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"{name} must be an RGB image tensor 3×H×W or 1×3×H×W in [0, 1], got {shape}")
    return image if image.dim() == 4 else image.unsqueeze(0)


def stylize(
    content: Tensor,
    style: Tensor,
    *,
    network: Optional[nn.Module] = None,
    steps: int = 300,
    optimizer: Literal["lbfgs", "adam"] = "lbfgs",
    lr: Optional[float] = None,
    content_layer: str = PAPER_CONTENT_LAYER,
    style_layers: StyleLayers = None,
    content_weight: float = 1.0,
    style_weight: float = DEFAULT_STYLE_WEIGHT,
    init: Literal["content", "noise"] = "content",
    precision: Literal["auto", "float32", "bfloat16"] = "auto",
    callback: Optional[Callback] = None,
) -> StyleResult:
    """Paint ``content`` in the style of ``style``; returns a ``StyleResult``.

    content, style: RGB tensors 1×3×H×W (or 3×H×W) in [0, 1]; the style may have another size
        (Gram matrices do not depend on it). The computation runs on ``content``'s device
        (``network`` is moved there).
    network: a ``VGG19Features`` giving at least ``content_layer`` and ``style_layers``;
        default: a random-weight one (with a warning: use pretrained weights for real work).
    steps: loss-and-gradient evaluations (for LBFGS, closure calls, as the PyTorch tutorial counts).
    optimizer, lr: "lbfgs" (default lr 1.0) or "adam" (default lr 0.02, in pixel units).
    content_layer: the layer whose activations carry the content (the paper: conv4_2).
    style_layers: ``{layer: weight}``, or a list of layers weighted equally; default the paper's
        conv1_1 ... conv5_1 with 1/5 each.
    content_weight, style_weight: alpha and beta of ``total = alpha*content + beta*style``.
    init: start from the content image or from uniform noise (``torch.rand``, global seed).
    precision: the network's arithmetic: "float32", "bfloat16" (on a copy of ``network``), or
        "auto": bfloat16 on CPUs that compute it natively, float32 elsewhere (CUDA convolutions
        already use TF32 by default). Image, Gram matrices, losses and optimiser stay float32.
    callback: ``callback(step, losses, image)`` after every evaluation; ``losses`` holds
        ``content_loss``, ``style_loss``, ``total_loss``; ``image`` is the current 1×3×H×W image.
    """
    content, style = _check_image(content, "content"), _check_image(style, "style")
    if optimizer not in DEFAULT_LR:
        raise UserError(f"optimizer: choose 'lbfgs' or 'adam', not {optimizer!r}")
    if init not in ("content", "noise"):
        raise UserError(f"init: choose 'content' or 'noise', not {init!r}")
    if steps < 1:
        raise UserError(f"steps: must be at least 1, got {steps}")
    if precision not in PRECISIONS:
        raise UserError(f"precision: choose one of {', '.join(PRECISIONS)}, not {precision!r}")
    content_layer = check_layers([content_layer], "content_layer")[0]
    layer_weights = style_layer_weights(style_layers)
    needed = [content_layer, *layer_weights]
    if network is None:
        warnings.warn("stylize: no network given, using VGG-19 with random weights", stacklevel=2)
        network = VGG19Features(needed).eval().requires_grad_(False)
    missing = [n for n in needed if n not in getattr(network, "layers", needed)]
    if missing:
        raise UserError(f"the feature network does not return layer(s) {', '.join(missing)}; "
                        f"build it with layers including {', '.join(needed)}")

    device = content.device
    network = network.to(device)
    content = content.to(dtype=torch.float32)
    style = style.to(device=device, dtype=torch.float32)
    centered = hasattr(network, "center")
    mean = network.mean.float() if centered else torch.zeros(1, 3, 1, 1, device=device)
    dtype = compute_dtype(precision, device, measure=lambda d: evaluation_seconds(network, content - mean, d))
    if dtype != torch.float32:
        network = copy.deepcopy(network).to(dtype)

    def features_of(pixels: Tensor) -> dict:  # pixels: centred when the network allows it
        found = network(pixels.to(dtype), centered=True) if centered else network(pixels.to(dtype))
        return {name: value.float() for name, value in found.items()}

    with torch.no_grad():
        content_target = features_of(content - mean)[content_layer]
        style_features = features_of(style - mean)
        style_targets = {name: gram_matrix(style_features[name]) for name in layer_weights}
        del style_features
        # Relative errors: divide by the target's energy (eps: a dead layer must not divide by 0).
        content_scale = 1.0 / max(content_target.square().sum().item(), 1e-12)
        style_scales = {name: w / max(style_targets[name].square().sum().item(), 1e-12)
                        for name, w in layer_weights.items()}

    start = content.clone() if init == "content" else torch.rand_like(content)
    image = (start - mean).contiguous().requires_grad_(True)
    low, high = -mean, 1.0 - mean

    result = StyleResult(image=content, precision=str(dtype).removeprefix("torch."))
    callback_seconds = 0.0

    def evaluate() -> Tensor:
        nonlocal callback_seconds
        image.grad = None
        pixels = torch.clamp(image, low, high)
        features = features_of(pixels)
        c_loss = content_loss(features[content_layer], content_target, content_scale)
        s_loss = sum(style_loss(features[name], style_targets[name], style_scales[name])
                     for name in layer_weights)
        total = content_weight * c_loss + style_weight * s_loss
        total.backward()
        losses = {"step": len(result.history) + 1, "content_loss": c_loss.item(),
                  "style_loss": s_loss.item(), "total_loss": total.item()}
        result.history.append(losses)
        if callback is not None:
            began = time.perf_counter()
            callback(losses["step"], losses, pixels.detach() + mean)
            callback_seconds += time.perf_counter() - began
        return total

    began = time.perf_counter()
    rate = DEFAULT_LR[optimizer] if lr is None else lr
    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([image], lr=rate, max_iter=steps, max_eval=steps, history_size=100)
        opt.step(evaluate)
    else:
        opt = torch.optim.Adam([image], lr=rate)
        for _ in range(steps):
            evaluate()
            opt.step()
    elapsed = time.perf_counter() - began - callback_seconds

    with torch.no_grad():
        result.image = (torch.clamp(image, low, high) + mean).clamp_(0.0, 1.0).contiguous()
    result.steps = len(result.history)
    result.seconds_per_step = elapsed / max(result.steps, 1)
    return result

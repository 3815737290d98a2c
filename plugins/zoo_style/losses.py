"""Gram matrices and the two losses of neural style transfer.

``gram_matrix`` is the style representation: channel-by-channel correlations of a layer's
activations, averaged over positions (so it does not depend on the image size). The style loss
has a hand-written backward: ``d/dF ||F F^T / P - A||^2 = 4 (F F^T / P - A) F / P`` is one
matrix product where autograd's generic ``mm`` backward does two and adds them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gram_matrix(features: Tensor) -> Tensor:
    """Gram matrices of ``features`` (N×C×H×W): N×C×C, ``G[n, i, j] = sum_p F[n,i,p] F[n,j,p] / (H·W)``.

    ``p`` runs over the H·W positions. Works on channels-last tensors without copying them.
    """
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return torch.baddbmm(flat.new_empty(n, c, c), flat, flat.transpose(1, 2), beta=0, alpha=1.0 / (h * w))


class _StyleLoss(torch.autograd.Function):
    """``weight * ||gram_matrix(features) - target||^2`` with a one-product backward."""

    @staticmethod
    def forward(ctx, features: Tensor, target: Tensor, weight: float) -> Tensor:
        difference = gram_matrix(features) - target
        ctx.save_for_backward(features, difference)
        ctx.weight = weight
        return weight * difference.square().sum()

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        features, difference = ctx.saved_tensors
        n, c, h, w = features.shape
        scaled = difference * (grad_output * (4.0 * ctx.weight / (h * w)))  # symmetric C×C
        flat = features.reshape(n, c, h * w)
        if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
            # (F^T D)^T = D F for symmetric D, computed in the features' own (channels-last) layout
            grad = torch.bmm(flat.transpose(1, 2), scaled).view(n, h, w, c).permute(0, 3, 1, 2)
        else:
            grad = torch.bmm(scaled, flat).view(n, c, h, w)
        return grad, None, None


def style_loss(features: Tensor, target_gram: Tensor, weight: float = 1.0) -> Tensor:
    """``weight * sum((gram_matrix(features) - target_gram)^2)`` as a scalar tensor.

    ``target_gram`` (N×C×C or C×C) is a constant: no gradient flows into it.
    """
    return _StyleLoss.apply(features, target_gram.detach(), float(weight))


def content_loss(features: Tensor, target: Tensor, weight: float = 1.0) -> Tensor:
    """``weight * sum((features - target)^2)`` as a scalar tensor (``target`` is a constant)."""
    return F.mse_loss(features, target.detach(), reduction="sum") * weight

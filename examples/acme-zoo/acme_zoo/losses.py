"""acme's losses."""

import torch
import torch.nn.functional as F


def focal(gamma: float = 2.0):
    """Focal loss: cross-entropy scaled by (1 - p_true) ** gamma, averaged per sample.

    gamma: focusing strength; 0 gives plain cross-entropy.
    """

    def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(output, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        return (-(1 - log_p.exp()) ** gamma * log_p).mean()

    return loss

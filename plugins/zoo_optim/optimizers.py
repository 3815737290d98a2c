"""Optimizer factories: ``factory(params, **recipe keys) -> torch.optim.Optimizer``.

Defaults are torch's, except ``sgd``'s learning rate (0.01, as the seeds use). An invalid
value (a negative learning rate, Nesterov without momentum, an empty parameter list) is a
``zoo.UserError`` naming the optimizer and torch's reason. The bounds are also in the
annotations (``Annotated[float, Gt(0)]``), so a recipe's ``lr: 0`` or ``weight_decay: -1`` is
refused by the recipe validator with its ``file:line`` before anything is built.
"""

from typing import Annotated, Any, Callable, Literal, Optional

import torch
from annotated_types import Ge, Gt, Lt

from zoo import UserError


def _build(name: str, cls: Callable[..., torch.optim.Optimizer], params: Any, **kwargs: Any) -> torch.optim.Optimizer:
    try:
        return cls(params, **kwargs)
    except ValueError as exc:
        raise UserError(f"optimizer {name!r}: {exc} (check the recipe's optimizer: keys)") from exc


def sgd(
    params: Any,
    lr: Annotated[float, Gt(0)] = 0.01,
    momentum: Annotated[float, Ge(0)] = 0.0,
    dampening: Annotated[float, Ge(0)] = 0.0,
    nesterov: bool = False,
    weight_decay: Annotated[float, Ge(0)] = 0.0,
) -> torch.optim.Optimizer:
    """Stochastic gradient descent (torch.optim.SGD), the seeds' optimizer.

    lr: learning rate. momentum: momentum factor (0 = none). dampening: momentum dampening.
    nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
    weight_decay: L2 penalty.
    """
    return _build("sgd", torch.optim.SGD, params, lr=lr, momentum=momentum, dampening=dampening,
                  nesterov=nesterov, weight_decay=weight_decay)


def adam(
    params: Any,
    lr: Annotated[float, Gt(0)] = 0.001,
    betas: tuple[Annotated[float, Ge(0), Lt(1)], Annotated[float, Ge(0), Lt(1)]] = (0.9, 0.999),
    eps: Annotated[float, Ge(0)] = 1e-8,
    weight_decay: Annotated[float, Ge(0)] = 0.0,
    amsgrad: bool = False,
) -> torch.optim.Optimizer:
    """Adam (torch.optim.Adam); the seeds' transfer-learning optimizer (with lr 0.003).

    lr: learning rate. betas: decay rates of the first and second moment estimates.
    eps: added to the denominator. weight_decay: L2 penalty (coupled; see adamw).
    amsgrad: use the AMSGrad variant.
    """
    return _build("adam", torch.optim.Adam, params, lr=lr, betas=tuple(betas), eps=eps,
                  weight_decay=weight_decay, amsgrad=amsgrad)


def adamw(
    params: Any,
    lr: Annotated[float, Gt(0)] = 0.001,
    betas: tuple[Annotated[float, Ge(0), Lt(1)], Annotated[float, Ge(0), Lt(1)]] = (0.9, 0.999),
    eps: Annotated[float, Ge(0)] = 1e-8,
    weight_decay: Annotated[float, Ge(0)] = 0.01,
    amsgrad: bool = False,
) -> torch.optim.Optimizer:
    """AdamW: Adam with decoupled weight decay (torch.optim.AdamW).

    lr: learning rate. betas: moment decay rates. eps: added to the denominator.
    weight_decay: decoupled weight decay. amsgrad: use the AMSGrad variant.
    """
    return _build("adamw", torch.optim.AdamW, params, lr=lr, betas=tuple(betas), eps=eps,
                  weight_decay=weight_decay, amsgrad=amsgrad)


def rmsprop(
    params: Any,
    lr: Annotated[float, Gt(0)] = 0.01,
    alpha: Annotated[float, Ge(0)] = 0.99,
    eps: Annotated[float, Ge(0)] = 1e-8,
    weight_decay: Annotated[float, Ge(0)] = 0.0,
    momentum: Annotated[float, Ge(0)] = 0.0,
    centered: bool = False,
) -> torch.optim.Optimizer:
    """RMSprop (torch.optim.RMSprop).

    lr: learning rate. alpha: smoothing constant. eps: added to the denominator.
    weight_decay: L2 penalty. momentum: momentum factor.
    centered: normalise by the estimated variance of the gradient.
    """
    return _build("rmsprop", torch.optim.RMSprop, params, lr=lr, alpha=alpha, eps=eps,
                  weight_decay=weight_decay, momentum=momentum, centered=centered)


def lbfgs(
    params: Any,
    lr: Annotated[float, Gt(0)] = 1.0,
    max_iter: Annotated[int, Gt(0)] = 20,
    max_eval: Optional[Annotated[int, Gt(0)]] = None,
    tolerance_grad: Annotated[float, Ge(0)] = 1e-7,
    tolerance_change: Annotated[float, Ge(0)] = 1e-9,
    history_size: Annotated[int, Gt(0)] = 100,
    line_search_fn: Optional[Literal["strong_wolfe"]] = None,
) -> torch.optim.Optimizer:
    """L-BFGS (torch.optim.LBFGS), as in Gatys style transfer; its step() needs a closure.

    lr: learning rate. max_iter: iterations per step. max_eval: function evaluations per step
    (default max_iter * 1.25). tolerance_grad / tolerance_change: stopping tolerances.
    history_size: update history kept. line_search_fn: "strong_wolfe" or none.
    """
    return _build("lbfgs", torch.optim.LBFGS, params, lr=lr, max_iter=max_iter, max_eval=max_eval,
                  tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                  history_size=history_size, line_search_fn=line_search_fn)

"""Hook implementations of the ``zoo_optim`` plugin: losses, optimizers, schedulers.

Factories are registered by import path, so loading this plugin imports no torch.
"""

from zoo import hookimpl

LOSSES = {
    "cross_entropy": ("Cross-entropy on raw logits (label smoothing, class weights)", ("classification",)),
    "nll": ("Negative log-likelihood of log-probabilities (models ending in LogSoftmax)", ("classification",)),
    "bce_with_logits": ("Binary cross-entropy on logits; integer labels become one-hot", ("multilabel",)),
    "mse": ("Mean squared error; integer labels become one-hot", ("regression",)),
}

OPTIMIZERS = {
    "sgd": "Stochastic gradient descent (momentum, Nesterov, weight decay); lr 0.01",
    "adam": "Adam",
    "adamw": "AdamW: Adam with decoupled weight decay",
    "rmsprop": "RMSprop",
    "lbfgs": "L-BFGS (its step needs a closure; for style transfer)",
}

SCHEDULERS = {
    "step": ("Decay the learning rate by gamma every step_size epochs", "epoch"),
    "cosine": ("Cosine annealing over the run's epochs", "epoch"),
    "onecycle": ("One-cycle policy, stepped every batch", "batch"),
    "plateau": ("Cut the learning rate when the validation loss stalls", "plateau"),
}


@hookimpl
def zoo_register_losses(registry):
    for name, (summary, tags) in LOSSES.items():
        registry.register(name, f"zoo_optim.losses:{name}", summary=summary, tags=tags)


@hookimpl
def zoo_register_optimizers(registry):
    for name, summary in OPTIMIZERS.items():
        registry.register(name, f"zoo_optim.optimizers:{name}", summary=summary)


@hookimpl
def zoo_register_schedulers(registry):
    for name, (summary, when) in SCHEDULERS.items():
        registry.register(name, f"zoo_optim.schedulers:{name}", summary=summary, step=when)

"""``densenet121``: the seeds' transfer learning (a frozen ImageNet DenseNet-121, a new head)."""

import logging
from typing import Optional, Union

from torch import nn

from zoo.toolkit import adapt_input_channels, apply_state_dict
from zoo.toolkit import freeze as freeze_parameters
from zoo_models.shapes import positive, probability

log = logging.getLogger("zoo.models")

FEATURES = 1024  # DenseNet-121's feature width, the classifier's input


def classifier_head(in_features: int, hidden: list, num_classes: int, dropout: float, log_softmax: bool) -> nn.Sequential:
    """Linear+ReLU+Dropout per hidden size, a Linear to the classes, LogSoftmax if asked.

    ``classifier_head(1024, [256], 2, 0.2, True)`` is the seeds' head, layer for layer.
    """
    layers: list = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, num_classes))
    if log_softmax:
        layers.append(nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


def build_densenet121(
    pretrained: bool = True,
    weights: Optional[str] = None,
    freeze: Union[bool, str, list[str]] = "features",
    head: list[int] = [256],
    dropout: float = 0.2,
    log_softmax: bool = False,
    num_classes: int = 2,
    in_channels: int = 3,
) -> nn.Module:
    """DenseNet-121 for transfer learning, as in the seeds: ImageNet features, frozen, and a new head.

    pretrained: load torchvision's ImageNet weights (densenet121-a639ec97.pth) from
        $TORCH_HOME/hub/checkpoints, hash-checked, tensors only; downloaded only with network.
    weights: a local .pt/.pth/.safetensors file to load instead (an ImageNet file, or a
        checkpoint of this model with its head).
    freeze: true = everything but the new head; "features" (the default) = the convolutional
        part; a module-name glob or a list of them (e.g. ["features.conv0", "features.denseblock[12]"]);
        false = train everything. The classification task keeps frozen modules in eval mode while
        the rest trains (their BatchNorm statistics stay as loaded).
    head: hidden sizes of the new classifier ([256]: Linear(1024,256), ReLU, Dropout, Linear(256,C)).
    dropout: dropout probability in the head.
    log_softmax: end with LogSoftmax (pair with loss nll, as the seeds); else raw logits
        (pair with cross_entropy).
    num_classes: outputs (filled from the dataset).
    in_channels: input channels (filled from the dataset); other than 3, the first conv's
        pretrained weights are summed (1 channel) or repeated.
    """
    import torchvision.models as tv_models

    from zoo_torchvision import read_pretrained

    for i, size in enumerate(head):
        positive(size, f"model.head[{i}]")
    new_head = classifier_head(FEATURES, list(head), positive(num_classes, "model.num_classes"),
                               probability(dropout, "model.dropout"), log_softmax)
    state = path = None
    if pretrained or weights is not None:  # read (and check) the file before the 1 s build
        state, path = read_pretrained("densenet121", weights, label="densenet121")
    model = tv_models.densenet121(weights=None)
    model.classifier = new_head
    model.zoo_head = "classifier"
    if state is not None:
        report = apply_state_dict(model, state, replaced=("classifier",), source=path)
        model.zoo_weights = report.as_dict()
    if in_channels != 3:
        adapt_input_channels(model, positive(in_channels, "model.in_channels"))
    frozen = freeze_parameters(model, freeze, keep=("classifier",), key="model.freeze")
    if frozen and state is None:
        log.warning("densenet121: freezing %d randomly initialised parameter tensors (pretrained is off); "
                    "set freeze: false to train them", len(frozen))
    return model

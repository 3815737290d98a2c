"""What safe, hash-checked weight loading costs against plain ``torch.load``.

zoo reads every weights file through ``zoo.weights.load_state_dict``: the SHA-256 prefix in
the file's name is verified, then ``torch.load(weights_only=True)``. torchvision's cached-file
path skips the hash check. Both read the SAME file, torchvision-named (``name-<hash>.pth``).

1. Reading a ResNet-18-sized file (11.7M parameters, 45 MB; short mode: MobileNetV3-small,
   2.5M): zoo's ``load_state_dict`` vs ``torch.load(weights_only=True)``. Target: the check
   costs at most the read itself (ratio >= 0.5); floor asserted 0.2.
2. The seeds' transfer-learning model, end to end: zoo's ``densenet121`` factory (pretrained
   file, legacy key remap, new head, frozen features) vs the seeds' code with torchvision
   (build, torch.load, remap, load_state_dict, new classifier, freeze loop). Target: the same
   speed (ratio ~1); floor asserted 0.5.

``ZOO_BENCH_SHORT=1`` uses the smaller model and 2 rounds.
"""

from __future__ import annotations

import hashlib
import re

import torch
from torch import nn

from benchmarks.conftest import SHORT, compare
from zoo import weights as zw

ROUNDS = 2 if SHORT else 5
LEGACY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def save_torchvision_named(state: dict, folder, stem: str):
    """Save ``state`` as ``stem-<sha256[:8]>.pth``, the way torch.hub names its downloads."""
    tmp = folder / f"{stem}.tmp"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    return tmp.rename(folder / f"{stem}-{digest[:8]}.pth")


def test_safe_hash_checked_read_vs_torch_load(benchmark, tmp_path):
    import torchvision.models as tv_models

    build = tv_models.mobilenet_v3_small if SHORT else tv_models.resnet18
    path = save_torchvision_named(build(weights=None).state_dict(), tmp_path, "net")
    ratio = compare(
        benchmark,
        lambda: zw.load_state_dict(path),
        lambda: torch.load(path, map_location="cpu", weights_only=True),
        rounds=ROUNDS, label="ratio",
    )
    benchmark.extra_info["megabytes"] = round(path.stat().st_size / 2**20, 1)
    assert ratio > 0.2


def seeds_densenet(path) -> nn.Module:
    """The seeds' transfer-learning setup, loading the same file with plain torchvision/torch."""
    import torchvision.models as tv_models

    model = tv_models.densenet121(weights=None)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in list(state):
        match = LEGACY.match(key)
        if match:
            state[match.group(1) + match.group(2)] = state.pop(key)
    model.load_state_dict(state)
    for param in model.parameters():
        param.requires_grad = False
    model.classifier = nn.Sequential(nn.Linear(1024, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 2),
                                     nn.LogSoftmax(dim=1))
    return model


def test_densenet_transfer_setup_vs_seeds(benchmark, tmp_path):
    import torchvision.models as tv_models

    from zoo_models.densenet import build_densenet121

    state = tv_models.densenet121(weights=None).state_dict()
    legacy = {(re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k)): v
              for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = save_torchvision_named(legacy, tmp_path, "densenet121")
    ratio = compare(
        benchmark,
        lambda: build_densenet121(weights=str(path), num_classes=2, log_softmax=True),
        lambda: seeds_densenet(path),
        rounds=ROUNDS, label="ratio",
    )
    assert ratio > 0.5

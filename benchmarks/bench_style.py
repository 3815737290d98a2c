"""Issue 7's speed: seconds per LBFGS evaluation, zoo's ``stylize`` against the PyTorch tutorial's code.

Both sides optimise a 256×256 image (128×128 in short mode) with ``torch.optim.LBFGS`` on the
paper's layers -- content conv4_2, style conv1_1, conv2_1, conv3_1, conv4_1, conv5_1 -- with
the same random VGG-19 weights (no download), and are timed per loss-and-gradient evaluation
over their optimisation loops only (targets and model building excluded on both sides):

- tutorial: the official "Neural Transfer Using PyTorch" code as written there: a
  ``Normalization`` module first, ``ContentLoss``/``StyleLoss`` modules inserted after the
  chosen convolutions of torchvision's ``vgg19().features`` in an ``nn.Sequential`` (ReLUs
  made out-of-place), the network cut after the last loss module, and the closure that clamps
  the image in place and sums the modules' losses;
- zoo: ``zoo_style.transfer.stylize`` (``StyleResult.seconds_per_step``) as a recipe runs it
  (``precision: auto``: a bfloat16 network on CPUs with native bfloat16, float32 elsewhere),
  and again with ``precision="float32"`` (the same arithmetic as the tutorial).

Every round runs one optimisation of each side: the tutorial and zoo-float32 in
pytest-benchmark's untimed setup (taking turns going first), then zoo under pytest-benchmark,
after one warm-up round. Ratios are paired (median over rounds of each round's zoo/tutorial),
so a load spike on a shared machine hits both sides of a ratio alike. Target: zoo/tutorial
<= 0.9. Asserted floors: zoo-float32/tutorial <= 1.1 (measured 0.84-0.97; fails only if zoo
gets clearly slower than the tutorial), zoo/tutorial <= 1.1 whatever the default chose, and,
where it chose bfloat16 (measured 0.46-0.55 on this CPU in some sessions; in others bfloat16 was
not faster and float32 was chosen), no more than 1.15x zoo-float32's time. The choice is timed on
the machine, so a bfloat16 barely faster than float32 may be chosen: the 0.9 target is not
asserted. ``benchmark.extra_info`` holds both ratios and each side's median.
One intra-op thread on every side (as bench_classify): on a shared 2-core machine two threads
mostly measure who else is running (OpenMP barriers wait for a descheduled thread), which
inflates the side with more ops. (On a quiet machine with 2 threads: 0.46 and 0.84 as well.)

Full mode: 10 evaluations per optimisation, 3 rounds. ``ZOO_BENCH_SHORT=1``: 128×128, 8
evaluations, 3 rounds.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.conftest import SHORT, intra_op_threads
from zoo_style.transfer import stylize
from zoo_style.vgg import VGG19Features

SIZE = 128 if SHORT else 256
EVALUATIONS = 8 if SHORT else 10
ROUNDS = 3
THREADS = 1
TARGET = 0.9  # zoo/tutorial seconds per evaluation
FLOOR_FLOAT32 = 1.1  # asserted for zoo in float32 (measured 0.84-0.97): never clearly slower than the tutorial

PAPER_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1"]
# the same layers in the tutorial's naming (convolutions counted from 1 through the network)
TUTORIAL_CONTENT = ["conv_10"]
TUTORIAL_STYLE = ["conv_1", "conv_3", "conv_5", "conv_9", "conv_13"]


# -- the tutorial, as written (https://pytorch.org/tutorials/advanced/neural_style_tutorial.html) --


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


def tutorial_gram_matrix(input):
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super().__init__()
        self.target = tutorial_gram_matrix(target_feature).detach()

    def forward(self, input):
        G = tutorial_gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


def get_style_model_and_losses(cnn, style_img, content_img, content_layers, style_layers):
    normalization = Normalization([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    content_losses, style_losses = [], []
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = f"conv_{i}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu_{i}"
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool_{i}"
        else:
            raise RuntimeError(f"Unrecognized layer: {layer.__class__.__name__}")
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module(f"content_loss_{i}", content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module(f"style_loss_{i}", style_loss)
            style_losses.append(style_loss)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], (ContentLoss, StyleLoss)):
            break
    return model[: i + 1], style_losses, content_losses


def tutorial_seconds_per_evaluation(cnn, content_img, style_img, evaluations, style_weight=1e6, content_weight=1):
    """The tutorial's ``run_style_transfer`` loop; returns seconds per closure call (model building untimed)."""
    input_img = content_img.clone()
    model, style_losses, content_losses = get_style_model_and_losses(
        cnn, style_img, content_img, TUTORIAL_CONTENT, TUTORIAL_STYLE)
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    # the tutorial keeps LBFGS's max_iter=20; a smaller one only ends this timing run sooner
    optimizer = torch.optim.LBFGS([input_img], max_iter=evaluations)
    run = [0]
    start = time.perf_counter()
    while run[0] < evaluations:

        def closure():
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = 0
            content_score = 0
            for sl in style_losses:
                style_score += sl.loss
            for cl in content_losses:
                content_score += cl.loss
            style_score *= style_weight
            content_score *= content_weight
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            return style_score + content_score

        optimizer.step(closure)
    return (time.perf_counter() - start) / run[0]


# -- the benchmark ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fixed_threads():
    """Every side on the same number of intra-op threads."""
    with intra_op_threads(THREADS):
        yield


@pytest.fixture(scope="module")
def networks():
    """zoo's feature network and the tutorial's ``vgg19().features`` holding the same random weights."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    ours = VGG19Features(PAPER_LAYERS).eval().requires_grad_(False)
    tutorial_cnn = make_layers(cfgs["E"]).eval()  # = torchvision.models.vgg19().features
    tutorial_cnn.load_state_dict({k.removeprefix("features."): v for k, v in ours.state_dict().items()},
                                 strict=False)
    return ours, tutorial_cnn


def test_lbfgs_evaluation_zoo_vs_pytorch_tutorial(benchmark, networks):
    ours, tutorial_cnn = networks
    torch.manual_seed(1)
    content, style = torch.rand(1, 3, SIZE, SIZE), torch.rand(1, 3, SIZE, SIZE)
    times = {"zoo": [], "zoo_float32": [], "tutorial": []}
    chosen = []  # the precision zoo's default (auto) chose: bfloat16 only where it measured faster

    def tutorial():
        times["tutorial"].append(tutorial_seconds_per_evaluation(tutorial_cnn, content, style, EVALUATIONS))

    def zoo_float32():
        times["zoo_float32"].append(stylize(content, style, network=ours, steps=EVALUATIONS,
                                            precision="float32").seconds_per_step)

    def setup():  # untimed by pytest-benchmark; the two sides take turns going first
        sides = (tutorial, zoo_float32) if len(times["tutorial"]) % 2 == 0 else (zoo_float32, tutorial)
        for side in sides:
            side()

    def zoo_default():
        result = stylize(content, style, network=ours, steps=EVALUATIONS)
        times["zoo"].append(result.seconds_per_step)
        chosen.append(result.precision)

    benchmark.pedantic(zoo_default, setup=setup, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    measured = {side: values[1:] or values for side, values in times.items()}  # drop the warm-up round
    ratio = paired_median(measured["zoo"], measured["tutorial"])
    ratio_float32 = paired_median(measured["zoo_float32"], measured["tutorial"])
    medians = {side: statistics.median(values) for side, values in measured.items()}
    benchmark.extra_info.update({
        "image_size": SIZE,
        "evaluations_per_round": EVALUATIONS,
        "zoo_precision": "/".join(sorted(set(chosen))),
        "zoo_seconds_per_evaluation": round(medians["zoo"], 5),
        "zoo_float32_seconds_per_evaluation": round(medians["zoo_float32"], 5),
        "tutorial_seconds_per_evaluation": round(medians["tutorial"], 5),
        "zoo_over_tutorial": round(ratio, 3),
        "zoo_float32_over_tutorial": round(ratio_float32, 3),
        "target": TARGET,
        "threads": torch.get_num_threads(),
    })
    print(f"\n{SIZE}x{SIZE}, {torch.get_num_threads()} threads, s/evaluation: tutorial {medians['tutorial']:.4f}, "
          f"zoo {medians['zoo']:.4f} ({benchmark.extra_info['zoo_precision']}; zoo/tutorial {ratio:.3f}), "
          f"zoo float32 {medians['zoo_float32']:.4f} (zoo/tutorial {ratio_float32:.3f}); target <= {TARGET}")
    assert ratio_float32 <= FLOOR_FLOAT32, f"zoo in float32 takes {ratio_float32:.2f}x the tutorial's time per evaluation"
    assert ratio <= FLOOR_FLOAT32, f"zoo takes {ratio:.2f}x the tutorial's time per evaluation"
    if "bfloat16" in chosen[1:]:  # auto chose bfloat16 because it measured faster: never clearly slower than float32
        assert ratio <= ratio_float32 * 1.15, f"zoo's bfloat16 takes {ratio / ratio_float32:.2f}x its float32 time"


def paired_median(numerator: list, denominator: list) -> float:
    """Median over rounds of each round's own ratio."""
    return statistics.median(n / d for n, d in zip(numerator, denominator))

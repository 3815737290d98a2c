"""zoo_optim: losses, optimizers, schedulers and the optimizer's parameter selector."""

from __future__ import annotations

import inspect

import pluggy
import pydantic
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import zoo.hookspecs
from zoo.errors import UserError
from zoo.registry import Registry
from zoo_optim import plugin as optim_plugin
from zoo.params import freeze, select_parameters


@pytest.fixture(scope="module")
def registries() -> dict:
    pm = pluggy.PluginManager("zoo")
    pm.add_hookspecs(zoo.hookspecs)
    pm.register(optim_plugin)
    found = {kind: Registry(kind) for kind in ("losses", "optimizers", "schedulers")}
    pm.hook.zoo_register_losses(registry=found["losses"])
    pm.hook.zoo_register_optimizers(registry=found["optimizers"])
    pm.hook.zoo_register_schedulers(registry=found["schedulers"])
    return found


@pytest.fixture
def losses(registries):
    return registries["losses"]


@pytest.fixture
def optimizers(registries):
    return registries["optimizers"]


@pytest.fixture
def schedulers(registries):
    return registries["schedulers"]


def test_registered_names_and_when_schedulers_step(registries):
    assert registries["losses"].names() == ["bce_with_logits", "cross_entropy", "mse", "nll"]
    assert registries["optimizers"].names() == ["adam", "adamw", "lbfgs", "rmsprop", "sgd"]
    steps = {e.name: e.metadata["step"] for e in registries["schedulers"].entries()}
    assert steps == {"cosine": "epoch", "onecycle": "batch", "plateau": "plateau", "step": "epoch"}


RUNNER_FILLED = {"params", "optimizer", "epochs", "steps_per_epoch"}


@pytest.mark.parametrize("kind", ["losses", "optimizers", "schedulers"])
def test_every_factory_signature_is_a_typed_recipe_schema(registries, kind):
    for entry in registries[kind].entries():
        fields = {}
        for param in entry.signature().parameters.values():
            if param.name in RUNNER_FILLED:
                continue
            assert param.annotation is not inspect.Parameter.empty, (entry.name, param.name)
            assert param.default is not inspect.Parameter.empty, (entry.name, param.name)
            fields[param.name] = (param.annotation, param.default)
        schema = pydantic.create_model(f"S_{kind}_{entry.name}", **fields)
        schema()
        assert entry.summary and entry.doc


# -- losses ------------------------------------------------------------------------------------


def batch(classes: int = 4, n: int = 6):
    torch.manual_seed(0)
    return torch.randn(n, classes, requires_grad=True), torch.randint(0, classes, (n,))


def test_cross_entropy_matches_torch_with_weights_and_smoothing(losses):
    output, target = batch()
    loss = losses.create("cross_entropy", label_smoothing=0.1, weight=[1.0, 2.0, 0.5, 1.0])
    expected = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5, 1.0]), label_smoothing=0.1)(output, target)
    assert torch.allclose(loss(output, target), expected)
    loss(output, target).backward()
    assert output.grad is not None


def test_class_weights_must_fit_the_output(losses):
    output, target = batch(classes=4)
    with pytest.raises(UserError, match="loss.weight has 3 values but the model outputs 4 classes"):
        losses.create("cross_entropy", weight=[1.0, 1.0, 1.0])(output, target)
    with pytest.raises(UserError, match="loss.weight"):
        losses.create("nll", weight=[1.0, -1.0])
    with pytest.raises(UserError, match="loss.label_smoothing"):
        losses.create("cross_entropy", label_smoothing=1.5)


def test_nll_on_log_softmax_equals_cross_entropy_on_logits(losses):
    output, target = batch()
    assert torch.allclose(losses.create("nll")(F.log_softmax(output, dim=1), target),
                          losses.create("cross_entropy")(output, target))


def test_bce_with_logits_turns_labels_into_one_hot_rows(losses):
    output, target = batch(classes=3)
    one_hot = F.one_hot(target, 3).float()
    loss = losses.create("bce_with_logits")
    assert torch.allclose(loss(output, target), F.binary_cross_entropy_with_logits(output, one_hot))
    assert torch.allclose(loss(output, one_hot), F.binary_cross_entropy_with_logits(output, one_hot))
    single = output[:, :1]
    labels = torch.tensor([0, 1, 1, 0, 1, 0])
    assert torch.allclose(loss(single, labels),
                          F.binary_cross_entropy_with_logits(single, labels.float().unsqueeze(1)))
    weighted = losses.create("bce_with_logits", pos_weight=[1.0, 2.0, 3.0])
    assert torch.allclose(weighted(output, target), F.binary_cross_entropy_with_logits(
        output, one_hot, pos_weight=torch.tensor([1.0, 2.0, 3.0])))


def test_mse_regresses_the_class_indicator(losses):
    output, target = batch(classes=3)
    loss = losses.create("mse")
    assert torch.allclose(loss(output, target), F.mse_loss(output, F.one_hot(target, 3).float()))
    values = torch.randn(6)
    assert torch.allclose(loss(output[:, 0], values), F.mse_loss(output[:, 0], values))


# -- optimizers --------------------------------------------------------------------------------


def regression_problem():
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return nn.Linear(3, 1), x, y


@pytest.mark.parametrize("name, keys", [
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adam", {"lr": 0.05, "betas": [0.9, 0.99]}),
    ("adamw", {"lr": 0.05}),
    ("rmsprop", {"lr": 0.01}),
    ("lbfgs", {"lr": 0.5}),
])
def test_each_optimizer_reduces_the_loss(optimizers, name, keys):
    model, x, y = regression_problem()
    optimizer = optimizers.create(name, params=model.parameters(), **keys)

    def closure():
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    before = F.mse_loss(model(x), y).item()
    for _ in range(20):
        optimizer.step(closure)
    assert F.mse_loss(model(x), y).item() < 0.5 * before


def test_sgd_defaults_are_the_seeds(optimizers):
    optimizer = optimizers.create("sgd", params=nn.Linear(2, 2).parameters())
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"]) == (0.01, 0.0, False)
    assert optimizers.get("adamw").signature().parameters["weight_decay"].default == 0.01


def test_invalid_optimizer_settings_are_user_errors(optimizers):
    params = list(nn.Linear(2, 2).parameters())
    with pytest.raises(UserError, match="optimizer 'sgd': Invalid learning rate: -1"):
        optimizers.create("sgd", params=params, lr=-1.0)
    with pytest.raises(UserError, match="optimizer 'sgd': Nesterov momentum requires a momentum"):
        optimizers.create("sgd", params=params, nesterov=True)
    with pytest.raises(UserError, match="empty parameter list"):
        optimizers.create("adam", params=[])


# -- parameter selection -----------------------------------------------------------------------


class Transfer(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        self.zoo_head = "classifier"


def test_select_parameters_specs():
    model = Transfer()
    every = list(model.parameters())
    assert select_parameters(model, "all") == every
    assert select_parameters(model) == every  # "trainable" by default
    assert select_parameters(model, "head") == list(model.classifier.parameters())
    assert select_parameters(model, "features.1") == list(model.features[1].parameters())
    assert select_parameters(model, ["classifier", "features.0"]) == (
        list(model.features[0].parameters()) + list(model.classifier.parameters()))
    assert select_parameters(model, ["*.bias"]) == [model.features[0].bias, model.features[1].bias,
                                                    model.classifier[1].bias]
    freeze(model, "features")
    assert select_parameters(model, "trainable") == list(model.classifier.parameters())


def test_head_without_zoo_head_is_the_last_child_with_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.LogSoftmax(dim=1))
    assert select_parameters(model, "head") == list(model[2].parameters())


def test_empty_or_unknown_selections_name_the_spec():
    model = Transfer()
    freeze(model, True)
    with pytest.raises(UserError, match=r"optimizer.params: 'trainable' selects no parameters of Transfer \(all of them are frozen\)"):
        select_parameters(model, "trainable")
    with pytest.raises(UserError, match=r"optimizer.params: 'clasifier' matches no parameter of Transfer \(its top-level modules: features, pool, classifier\)"):
        select_parameters(model, ["clasifier"])
    with pytest.raises(UserError, match="optimizer.params: expected one of trainable, all, head"):
        select_parameters(model, {"lr": 1})


def test_freeze_true_keeps_the_named_head_trainable():
    model = Transfer()
    frozen = freeze(model, True, keep=("classifier",))
    assert frozen == ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias"]
    assert [p.requires_grad for p in model.classifier.parameters()] == [True, True]
    assert freeze(Transfer(), False) == []


# -- schedulers --------------------------------------------------------------------------------


def sgd_at(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=lr)


def test_step_scheduler_decays_every_step_size_epochs(schedulers):
    optimizer = sgd_at(1.0)
    scheduler = schedulers.create("step", optimizer=optimizer, step_size=2, gamma=0.5)
    rates = []
    for _ in range(5):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == [1.0, 0.5, 0.5, 0.25, 0.25]


def test_cosine_spans_the_runs_epochs(schedulers):
    optimizer = sgd_at(1.0)
    scheduler = schedulers.create("cosine", optimizer=optimizer, epochs=4, eta_min=0.1)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


def test_onecycle_peaks_at_the_optimizers_rate_over_all_batches(schedulers):
    optimizer = sgd_at(0.2)
    scheduler = schedulers.create("onecycle", optimizer=optimizer, epochs=2, steps_per_epoch=5)
    assert scheduler.total_steps == 10
    rates = []
    for _ in range(10):  # the rate each batch trains with
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.2 / 25)
    assert max(rates) == pytest.approx(0.2, rel=0.05)
    assert rates[-1] < 0.2 / 1000


def test_plateau_cuts_the_rate_when_the_loss_stalls(schedulers):
    optimizer = sgd_at(1.0)
    scheduler = schedulers.create("plateau", optimizer=optimizer, patience=1, factor=0.5)
    for loss in (1.0, 0.5, 0.5, 0.5):
        scheduler.step(loss)
    assert optimizer.param_groups[0]["lr"] == 0.5
    with pytest.raises(UserError, match="scheduler.factor"):
        schedulers.create("plateau", optimizer=optimizer, factor=2.0)

"""Pretrained tags as model names: timm/resnet18.a1_in1k and torchvision/resnet18.imagenet1k_v1
are listed, resolve to their architecture plus the tag, and load those weights offline."""

from __future__ import annotations

import json

import pytest
import torch

from tests.test_models import offline_home, write_hf_cache  # noqa: F401  (a fixture, and the cache layout)
from zoo.errors import UserError


@pytest.fixture
def models():
    from zoo.plugins import get_manager

    return get_manager().registries.models


def test_a_timm_tag_is_a_model_name_that_loads_its_weights(models, offline_home):  # noqa: F811
    import timm
    from safetensors.torch import save

    with pytest.raises(UserError) as err:  # a tagged name means its weights: missing, it says where it looked
        models.create("timm/resnet18.a1_in1k", num_classes=3)
    assert str(err.value).startswith("pretrained weights for timm/resnet18.a1_in1k not found: looked for ")
    assert str(offline_home / "hf" / "models--timm--resnet18.a1_in1k") in str(err.value)

    torch.manual_seed(4)
    source = timm.create_model("resnet18", pretrained=False).state_dict()
    write_hf_cache(offline_home / "hf", "timm/resnet18.a1_in1k", "model.safetensors", save(source))
    model = models.create("timm/resnet18.a1_in1k", num_classes=3)
    assert torch.equal(model.layer2[0].conv1.weight, source["layer2.0.conv1.weight"]) and model.fc.out_features == 3
    assert model.pretrained_cfg["tag"] == "a1_in1k"
    old_spelling = models.create("timm/resnet18", tag="a1_in1k", pretrained=True)  # the tag: key still works
    assert torch.equal(old_spelling.layer2[0].conv1.weight, source["layer2.0.conv1.weight"])
    untrained = models.create("timm/resnet18.a1_in1k", pretrained=False)
    assert not torch.equal(untrained.layer2[0].conv1.weight, source["layer2.0.conv1.weight"])
    with pytest.raises(UserError, match="tag: ra_in1k contradicts the name's tag 'a1_in1k'"):
        models.create("timm/resnet18.a1_in1k", tag="ra_in1k")


def test_a_tagged_entry_carries_its_tags_figures(models):
    entry = models.get("timm/resnet50.a1h_in1k")
    assert entry.name == "timm/resnet50.a1h_in1k" and entry.bound_name == "resnet50.a1h_in1k"
    assert entry.metadata["card"]["input_size"] == [3, 176, 176] and entry.metadata["card"]["tag"] == "a1h_in1k"
    assert models.get("timm/resnet50").metadata["card"]["input_size"] == [3, 224, 224]
    assert models.get("torchvision/resnet50.IMAGENET1K_V2").metadata["card"]["top1"] == 80.858  # any case
    with pytest.raises(UserError, match=r"unknown model 'timm/resnet50.a1_in22k' \(did you mean 'timm/resnet50\.a1"):
        models.get("timm/resnet50.a1_in22k")


def test_a_torchvision_tag_names_its_weights_file(models, offline_home):  # noqa: F811
    with pytest.raises(UserError) as err:
        models.create("torchvision/resnet50.imagenet1k_v1")
    assert "resnet50-0676ba61.pth" in str(err.value)  # IMAGENET1K_V1's file, not the default V2's
    model = models.create("torchvision/resnet50", num_classes=4)  # no tag: no weights, as before
    assert model.fc.out_features == 4


def test_pretrained_lists_every_tag_and_info_shows_the_card(zoo_cli):
    rows = json.loads(zoo_cli("list", "models", "resnet18*", "--pretrained", "--json").stdout)
    names = {r["name"] for r in rows}
    assert {"timm/resnet18.a1_in1k", "timm/resnet18.tv_in1k", "torchvision/resnet18.imagenet1k_v1"} <= names
    assert "timm/resnet18" not in names and all(r["pretrained"] for r in rows)
    info = zoo_cli("info", "model", "timm/resnet50.a1h_in1k", "--json")
    assert info.returncode == 0, info.stderr
    card = json.loads(info.stdout)["card"]
    assert card["tag"] == "a1h_in1k" and card["input_size"] == [3, 176, 176] and card["params"] == 25_557_032
    assert card["license"] == "apache-2.0" and card["top1"] is None and card["features"] == 2048
    text = zoo_cli("info", "model", "torchvision/resnet50").stdout
    assert "params 25.6M, 4.09 GMACs at 3x224x224, head features 2048" in text
    assert "top-1 80.9%" in text and "torchvision/resnet50.imagenet1k_v1, torchvision/resnet50.imagenet1k_v2" in text


def test_a_recipe_names_a_torchvision_tag_as_torchvision_spells_it(tmp_path, capsys):
    from zoo.cli import main

    recipe = tmp_path / "tagged.yaml"
    body = ("task: {name: classification, epochs: 1}\ndata: {name: digits}\n"
            "model: {name: %s, pretrained: false}\nloss: {name: cross_entropy}\noptimizer: {name: adam}\n")
    recipe.write_text(body % "torchvision/resnet18.IMAGENET1K_V1")
    assert main(["run", str(recipe), "--dry-run"]) == 0, capsys.readouterr().err
    recipe.write_text(body % "torchvision/ResNet18.IMAGENET1K_V1")  # capitals only in the tag
    assert main(["run", str(recipe), "--dry-run"]) == 2
    assert "model.name: 'torchvision/ResNet18.IMAGENET1K_V1' is not a model name" in capsys.readouterr().err

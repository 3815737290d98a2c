"""Catalog cards against real figures: torchvision's published weights meta, timm's models counted
live, multiply-adds against torchvision's published figure; computing them resumes after Ctrl-C."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import register_in_process, run_zoo
from zoo.catalog_cards import CardStore, cards_path, computing, lock_path, read_cards
from zoo.catalog_compute import compute_card, compute_cards
from zoo.errors import Interrupted

TORCHVISION_WEIGHTS = [("resnet18", "IMAGENET1K_V1"), ("resnet50", "IMAGENET1K_V2"),
                       ("mobilenet_v3_small", "IMAGENET1K_V1"), ("efficientnet_b0", "IMAGENET1K_V1"),
                       ("vit_b_16", "IMAGENET1K_SWAG_E2E_V1")]
TIMM_SAMPLE = ["resnet18", "efficientnet_b0", "vit_tiny_patch16_224", "convnext_atto", "mobilenetv3_small_100"]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One catalog cache for the module's command lines (building it imports timm: seconds)."""
    return tmp_path_factory.mktemp("cards-cache")


def zoo_json(cache, *args) -> list:
    result = run_zoo("list", "models", *args, "--json", env={"ZOO_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def registry():
    """This process's models registry (after any ``register_in_process``)."""
    from zoo.plugins import get_manager

    return get_manager().registries.models


@pytest.fixture
def models():
    return registry()


def test_torchvision_cards_are_its_published_figures(shared_cache):
    import torchvision.models as tv

    rows = {r["name"]: r for r in zoo_json(shared_cache, "torchvision/*", "--pretrained")}
    for architecture, tag in TORCHVISION_WEIGHTS:
        weights = tv.get_model_weights(architecture)[tag]  # the meta is in torchvision's code: nothing downloads
        row = rows[f"torchvision/{architecture}.{tag.lower()}"]
        assert row["params"] == weights.meta["num_params"], architecture
        assert row["top1"] == weights.meta["_metrics"]["ImageNet-1K"]["acc@1"], architecture
        assert row["top5"] == weights.meta["_metrics"]["ImageNet-1K"]["acc@5"], architecture
        assert row["gmacs"] == weights.meta["_ops"] and row["file_mb"] == weights.meta["_file_size"], architecture
        assert row["pretrained"] is True and row["tag"] == tag.lower()
    assert rows["torchvision/vit_b_16.imagenet1k_swag_e2e_v1"]["input_size"] == [3, 384, 384]
    assert rows["torchvision/resnet50.imagenet1k_v2"]["top1"] == 80.858


def test_timm_parameter_counts_computed_on_the_meta_device_match_real_models(models):
    import timm

    for name in TIMM_SAMPLE:
        entry = models.get(f"timm/{name}")
        card, problem = compute_card(entry, entry.metadata["card"]["input_size"])
        real = timm.create_model(name, pretrained=False)  # on the CPU, with memory: counted live
        assert problem is None, problem
        assert card["params"] == sum(p.numel() for p in real.parameters()), name
        assert card["features"] == real.get_classifier().in_features, name  # the head a new head replaces


def test_multiply_adds_match_torchvisions_published_figure(models):
    import torchvision.models as tv

    for name in ("resnet18", "resnet50"):
        published = tv.get_model_weights(name).DEFAULT.meta["_ops"]  # resnet18: 1.814 "GFLOPS", one per multiply-add
        for source in ("torchvision", "timm"):
            card, _ = compute_card(models.get(f"{source}/{name}"), [3, 224, 224])
            assert card["gmacs"] == pytest.approx(published, rel=0.02), (source, name)
    card, _ = compute_card(models.get("densenet121"), [3, 224, 224])  # the built-in: its new head, 1024 features
    assert card["features"] == 1024 and card["gmacs"] == pytest.approx(2.83, rel=0.02)


def test_the_listing_shows_computed_cards_and_published_ones_side_by_side(shared_cache):
    rows = {r["name"]: r for r in zoo_json(shared_cache, "timm/resnet18*", "--pretrained", "--compute-cards")}
    a1 = rows["timm/resnet18.a1_in1k"]
    assert a1["params"] == 11_689_512 and a1["gmacs"] == pytest.approx(1.81, rel=0.02)
    assert a1["license"] == "apache-2.0" and a1["input_size"] == [3, 224, 224] and a1["top1"] is None
    assert rows["timm/resnet18.tv_in1k"]["license"] == "bsd-3-clause"
    assert "timm/resnet18" in read_cards_from(shared_cache)


def read_cards_from(cache) -> dict:
    files = list(cache.glob("cards-timm-*.json"))
    assert len(files) == 1
    return json.loads(files[0].read_text())["cards"]


def test_a_figure_that_cannot_be_computed_is_unknown_with_its_reason():
    def values_while_building(num_classes: int = 3):
        width = int(torch.ones(4).sum().item())  # needs a tensor's value: not on the meta device
        return torch.nn.Linear(width, num_classes)

    register_in_process("models", "acme/valued", values_while_building)
    card, problem = compute_card(registry().get("acme/valued"), [4])
    assert card == {} and "meta device" in problem
    card, problem = compute_card(registry().get("cnn"), None)
    assert card["params"] > 0 and "gmacs" not in card and "no input size" in problem


def test_computing_is_saved_as_it_goes_and_resumes_after_ctrl_c(isolated_cache):
    seen_locks = []

    def interrupted(num_classes: int = 3):
        seen_locks.append(computing("acme-1"))
        raise KeyboardInterrupt

    register_in_process("models", "acme/ctrl_c", interrupted)
    first = [("acme-1", "mlp", [1, 28, 28]), ("acme-1", "cnn", [3, 32, 32]), ("acme-1", "acme/ctrl_c", None),
             ("acme-1", "timm/resnet18", [3, 224, 224])]
    with pytest.raises(Interrupted, match="2 of 4 cards computed and saved; the same command goes on"):
        compute_cards(registry(), first, progress=False)
    assert seen_locks == [__import__("os").getpid()]  # while computing, the listing can say so
    assert computing("acme-1") is None and not lock_path("acme-1").exists()
    saved = read_cards("acme-1")["cards"]
    assert set(saved) == {"mlp", "cnn"} and saved["mlp"]["params"] == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10

    again = compute_cards(registry(), [w for w in first if w[1] != "acme/ctrl_c"], progress=False)
    assert again["already"] == 2 and again["computed"] == 1
    assert set(read_cards("acme-1")["cards"]) == {"mlp", "cnn", "timm/resnet18"}


def test_a_damaged_cards_file_is_computed_again_not_trusted(isolated_cache):
    with CardStore("acme-2") as store:
        store.add("mlp", {"params": 5})
    assert read_cards("acme-2")["cards"] == {"mlp": {"params": 5}}
    path = cards_path("acme-2")
    path.write_text(path.read_text()[:-7])  # cut short
    assert read_cards("acme-2") == {"cards": {}, "failed": {}}
    path.write_text(json.dumps({"format": 1, "source": "acme-2", "cards": {"mlp": 5}, "failed": {}}))
    assert read_cards("acme-2") == {"cards": {}, "failed": {}}


def test_two_stores_of_one_source_keep_each_others_cards_and_the_lock_stays_its_owners(isolated_cache):
    import subprocess
    import sys

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a live computation
    try:
        lock_path("acme-3").parent.mkdir(parents=True, exist_ok=True)
        lock_path("acme-3").write_text(str(other.pid))
        with CardStore("acme-3") as first, CardStore("acme-3") as second:  # e.g. zoo info beside --compute-cards
            first.add("mlp", {"params": 5})
            second.add("cnn", {"params": 7})
            first.save()
        assert read_cards("acme-3")["cards"] == {"mlp": {"params": 5}, "cnn": {"params": 7}}
        assert computing("acme-3") == other.pid  # still said to be computing: not ours to remove
    finally:
        other.kill()
        other.wait()


def test_zoo_cache_shows_and_clears_the_computed_cards(isolated_cache, capsys):
    from zoo.cli import main

    with CardStore("acme-3") as store:
        store.add("mlp", {"params": 5})
    capsys.readouterr()
    assert main(["cache", "--json"]) == 0
    (entry,) = [e for e in json.loads(capsys.readouterr().out) if e["kind"] == "cards"]
    assert entry["entry"] == "cards-acme-3" and "computed for acme-3" in entry["for"]
    assert main(["cache", "clear", "cards"]) == 0
    assert not cards_path("acme-3").exists() and read_cards("acme-3")["cards"] == {}


def test_info_and_the_listing_keep_a_tags_computed_card_under_one_name(isolated_cache, capsys):
    from zoo.catalog import card_key, card_keys
    from zoo.catalog_columns import card_source
    from zoo.cli import main

    assert main(["info", "model", "timm/resnet18.a1_in1k", "--json"]) == 0  # computes the card and keeps it
    capsys.readouterr()
    assert main(["list", "models", "timm/resnet18.a1_in1k", "--pretrained", "--json"]) == 0
    listed = capsys.readouterr()
    (row,) = json.loads(listed.out)
    assert row["params"] == 11_689_512 and "no computed card" not in listed.err
    with CardStore(card_source(registry().get("timm/resnet18").describe()), card_key("timm", card_keys())) as store:
        store.add("timm/resnet18", {"params": 7})  # as --compute-cards keeps it: under the architecture's name
    assert main(["info", "model", "timm/resnet18.tv_in1k", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["card"]["params"] == 7  # read, not computed again


def test_cards_kept_under_another_key_are_not_read_and_refresh_drops_them(isolated_cache):
    from zoo.catalog_cards import drop_stale

    with CardStore("acme-4", "old-code") as store:
        store.add("mlp", {"params": 5})
    assert read_cards("acme-4", "old-code")["cards"] == {"mlp": {"params": 5}}
    assert read_cards("acme-4", "new-code") == {"cards": {}, "failed": {}}
    assert drop_stale({"acme-4": "old-code"}) == [] and cards_path("acme-4").exists()
    assert drop_stale({"acme-4": "new-code"}) == [cards_path("acme-4")] and not cards_path("acme-4").exists()


def test_a_lock_left_by_a_process_whose_pid_was_reused_is_not_a_computation(isolated_cache):
    import os

    from zoo.run_record import process_start

    with CardStore("acme-5"):
        pid, started = lock_path("acme-5").read_text().split()
        assert int(pid) == os.getpid() and int(started) == process_start(os.getpid())
        assert computing("acme-5") == os.getpid()
    lock_path("acme-5").write_text(f"{os.getpid()} {process_start(os.getpid()) - 1}")  # our pid, another process
    assert computing("acme-5") is None


def test_info_shows_why_a_figure_could_not_be_computed_also_when_it_reads_the_saved_card(isolated_cache, capsys):
    from zoo.cli import main

    def values_while_building(num_classes: int = 3):
        return torch.nn.Linear(int(torch.ones(4).sum().item()), num_classes)  # needs a value: not on the meta device

    register_in_process("models", "acme/valued", values_while_building)
    for _ in range(2):  # computed, then read from the cards file
        assert main(["info", "model", "acme/valued"]) == 0
        assert "  not computed: building on the meta device: " in capsys.readouterr().out

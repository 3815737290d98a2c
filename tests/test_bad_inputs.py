"""Every bad input a user can give gets one clear line, the right exit status, and no traceback.

One row per real user mistake (or environment fault): the row writes the files in their real
formats, runs the real command line, and checks

- the exit status: 2 for the user's mistake, 1 for a failure while running (a full disk, a
  loss that turned NaN);
- exactly one stderr line starting ``zoo: error: ``, matching the row's pattern, which names
  the file and line, or the key, or the path at fault;
- no ``Traceback`` anywhere;
- and, where the row says so, what must still hold afterwards (a checkpoint intact, a payload
  that would have created a file never ran).

Rows that need a fresh interpreter (plugins installed on PYTHONPATH) run ``python -m zoo`` in a
subprocess; the others call ``zoo.cli.main`` in-process. ``CASES`` is the table the issue
asks for: its ids and patterns are the "input -> message" list.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest
import torch

from tests.conftest import REPO, run_zoo
from tests.fake_dists import write_plugin_dist
from tests.formats import (
    write_bytes_truncated,
    write_cifar10,
    write_idx,
    write_image_folder,
    write_mnist,
    write_not_an_image,
    write_truncated_image,
)
from zoo.cli import main

RECIPE = textwrap.dedent("""\
    seed: 0
    task: {name: classification, epochs: 1, batch_size: 64, plots: false}
    data: {name: digits, normalize: {mean: [0.5], std: [0.5]}}
    model: {name: mlp, hidden: [32]}
    loss: {name: cross_entropy}
    optimizer: {name: adam, lr: 0.003}
""")


class Payload:
    """Unpickling this creates ``marker``: if the file exists afterwards, the pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@dataclass
class Ctx:
    """What a row's setup gets: its own folder, pytest's monkeypatch, and a finished run to copy."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    trained_source: Path
    env: dict = field(default_factory=dict)
    extra_path: list = field(default_factory=list)

    @property
    def marker(self) -> Path:
        return self.tmp / "PWNED"

    def recipe(self, text: str = RECIPE, name: str = "r.yaml") -> Path:
        path = self.tmp / name
        path.write_text(textwrap.dedent(text))
        return path

    def edited(self, old: str, new: str) -> Path:
        assert old in RECIPE, old
        return self.recipe(RECIPE.replace(old, new))

    def trained(self) -> Path:
        """A copy of a finished one-epoch digits run (recipe.yaml, checkpoints/best.pt, last.pt)."""
        folder = self.tmp / "run"
        shutil.copytree(self.trained_source, folder)
        return folder


@dataclass
class Case:
    id: str
    setup: Callable[[Ctx], list]  # returns the command line (after "zoo")
    message: str  # regular expression the error line must match (after "zoo: error: ")
    status: int = 2
    subprocess: bool = False
    after: Optional[Callable[[Ctx], None]] = None  # what must still hold afterwards


# -- setups ------------------------------------------------------------------------------------


def cards_in_a_file(ctx: Ctx) -> list:
    """``zoo list models --compute-cards`` with ZOO_CACHE_DIR a file, not a folder."""
    blocker = ctx.tmp / "cache-file"
    blocker.write_text("not a folder")
    ctx.monkeypatch.setenv("ZOO_CACHE_DIR", str(blocker))
    return ["list", "models", "mlp", "--compute-cards"]


def data_recipe(ctx: Ctx, data: str, model: str = "{name: mlp, hidden: [16]}") -> Path:
    return ctx.recipe(RECIPE.replace("{name: digits, normalize: {mean: [0.5], std: [0.5]}}", data)
                      .replace("{name: mlp, hidden: [32]}", model))


def mnist_recipe(ctx: Ctx) -> Path:
    return data_recipe(ctx, f"{{name: mnist, root: {ctx.tmp / 'data'}}}")


def cifar_recipe(ctx: Ctx) -> Path:
    return data_recipe(ctx, f"{{name: cifar10, root: {ctx.tmp / 'data'}, checksum: false}}")


def folder_recipe(ctx: Ctx) -> Path:
    return data_recipe(ctx, f"{{name: imagefolder, root: {ctx.tmp / 'images'}, image_size: 16, test_fraction: 0.3}}")


def good_image_folder(ctx: Ctx) -> Path:
    root = ctx.tmp / "images"
    write_image_folder(root, ["cat", "dog"], per_class=4, size=(20, 20))
    return root


def mnist_with_label_10(ctx: Ctx) -> list:
    raw = write_mnist(ctx.tmp / "data", n_train=40, n_test=20)["raw_folder"]
    labels = np.arange(40, dtype=np.uint8) % 10
    labels[7] = 10
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    return ["run", mnist_recipe(ctx), "--output", ctx.tmp / "out"]


def malicious_cifar(ctx: Ctx) -> list:
    folder = write_cifar10(ctx.tmp / "data")["folder"]
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({"data": Payload(ctx.marker), "labels": [0]}, f, protocol=2)
    return ["run", cifar_recipe(ctx), "--output", ctx.tmp / "out"]


def empty_class(ctx: Ctx) -> list:
    root = good_image_folder(ctx)
    (root / "zebra").mkdir()
    (root / "zebra" / "notes.txt").write_text("no images here yet\n")
    return ["run", folder_recipe(ctx), "--output", ctx.tmp / "out"]


def fixed_outputs_model(ctx: Ctx) -> list:
    """A third-party model that always gives 1,000 outputs (an ImageNet head), on 10-class digits."""
    from torch import nn

    from zoo import hookimpl
    from zoo.plugins import get_manager

    class ThirdParty:
        @hookimpl
        def zoo_register_models(self, registry):
            def imagenet_head(in_channels: int = 1) -> nn.Module:
                """Flatten, then 1,000 ImageNet classes, whatever the data."""
                return nn.Sequential(nn.Flatten(), nn.LazyLinear(1000))

            registry.register("acme/imagenet_head", imagenet_head)

    get_manager().register(ThirdParty(), "acme")
    return ["run", ctx.edited("{name: mlp, hidden: [32]}", "{name: acme/imagenet_head}"), "--output", ctx.tmp / "out"]


def sensor_dataset(ctx: Ctx, poisoned: str) -> None:
    """A third-party dataset plugin whose ``poisoned`` split holds a NaN (a missing reading)."""
    from zoo import Splits, hookimpl
    from zoo.plugins import get_manager

    def sensors() -> Splits:
        """Readings of 8×8 sensors, 4 classes."""
        g = torch.Generator().manual_seed(0)
        labels = torch.arange(120) % 4
        x = torch.randn(120, 1, 8, 8, generator=g) * 0.1 + labels.view(-1, 1, 1, 1).float()
        parts = {"train": (x[:80].clone(), labels[:80]), "valid": (x[80:100].clone(), labels[80:100]),
                 "test": (x[100:], labels[100:])}
        parts[poisoned][0][3, 0, 2, 2] = float("nan")
        data = {k: torch.utils.data.TensorDataset(*v) for k, v in parts.items()}
        return Splits(train=data["train"], valid=data["valid"], test=data["test"], classes=list("abcd"))

    class Sensors:
        @hookimpl
        def zoo_register_datasets(self, registry):
            registry.register("acme/sensors", sensors)

    get_manager().register(Sensors(), "acme")


def nan_in(split: str) -> Callable[[Ctx], list]:
    def setup(ctx: Ctx) -> list:
        sensor_dataset(ctx, split)
        recipe = ctx.edited("{name: digits, normalize: {mean: [0.5], std: [0.5]}}", "{name: acme/sensors}")
        return ["run", recipe, "--output", ctx.tmp / "out", "task.batch_size=16"]

    return setup


def disk_full_at_second_best(ctx: Ctx) -> list:
    """The disk fills up while epoch 2 saves its (better) best.pt."""
    real_fsync = os.fsync
    writes = []

    def fsync(fd):
        name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else ""
        if os.path.basename(name).startswith(".best.pt."):
            writes.append(name)
            if len(writes) >= 2:
                raise OSError(28, "No space left on device")
        return real_fsync(fd)

    ctx.monkeypatch.setattr(os, "fsync", fsync)
    return ["run", ctx.recipe(), "--output", ctx.tmp / "out", "task.epochs=3", "optimizer.lr=0.01"]


def best_epoch_is_1(ctx: Ctx) -> None:
    from zoo import checkpoints

    folder = ctx.tmp / "out" / "checkpoints"
    assert checkpoints.load(folder / "best.pt")["epoch"] == 1
    assert checkpoints.load(folder / "last.pt")["epoch"] == 1
    assert sorted(os.listdir(folder)) == ["best.pt", "last.pt"]  # no temporary file left behind


def no_best_checkpoint(ctx: Ctx) -> None:
    assert not (ctx.tmp / "out" / "checkpoints" / "best.pt").exists()


def payload_never_ran(ctx: Ctx) -> None:
    assert not ctx.marker.exists(), "the malicious pickle ran code"


def recipe_untouched(ctx: Ctx) -> None:
    """A resume that failed leaves the run folder's recipe as it was (so a plain --resume still works)."""
    assert (ctx.tmp / "run" / "recipe.yaml").read_text() == (ctx.trained_source / "recipe.yaml").read_text()


def resume_with(ctx: Ctx, name: str, write: Callable[[Path], None], *overrides: str) -> list:
    folder = ctx.trained()
    write(folder / "checkpoints" / name)
    return ["run", "--resume", folder, "task.epochs=2", *overrides]


def eval_with(ctx: Ctx, write: Callable[[Path], None], *overrides: str) -> list:
    folder = ctx.trained()
    write(folder / "checkpoints" / "best.pt")
    return ["eval", folder, *overrides]


def evil_pickle(ctx: Ctx) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        torch.save({"model": Payload(ctx.marker), "epoch": 1}, path)

    return write


def truncate(path: Path) -> None:
    write_bytes_truncated(path, keep=0.6)


def unchanged(path: Path) -> None:
    pass


def planted_hub_weights(ctx: Ctx) -> list:
    """A malicious pickle planted in torch.hub's cache under torchvision's real DenseNet-121 file name."""
    torch_home = ctx.tmp / "torch-home"
    target = torch_home / "hub" / "checkpoints" / "densenet121-a639ec97.pth"
    target.parent.mkdir(parents=True)
    torch.save({"features.conv0.weight": Payload(ctx.marker)}, target)
    ctx.monkeypatch.setenv("TORCH_HOME", str(torch_home))
    ctx.monkeypatch.setenv("ZOO_OFFLINE", "1")
    recipe = ctx.edited("{name: mlp, hidden: [32]}", "{name: densenet121, pretrained: true}")
    return ["run", recipe, "--output", ctx.tmp / "out", "data.image_size=32", "data.channels=3"]


def evil_weights_file(ctx: Ctx) -> list:
    """A downloaded 'weights' file given as model.weights that is a malicious pickle."""
    path = ctx.tmp / "downloaded_weights.pth"
    torch.save({"features.conv0.weight": Payload(ctx.marker)}, path)
    recipe = ctx.edited("{name: mlp, hidden: [32]}", f"{{name: densenet121, weights: {path}}}")
    return ["run", recipe, "--output", ctx.tmp / "out", "data.image_size=32", "data.channels=3"]


def other_architecture_weights(ctx: Ctx) -> list:
    """model.weights naming the best.pt of an MLP run, for a DenseNet."""
    best = ctx.trained() / "checkpoints" / "best.pt"
    recipe = ctx.edited("{name: mlp, hidden: [32]}", f"{{name: densenet121, weights: {best}}}")
    return ["run", recipe, "--output", ctx.tmp / "out", "data.image_size=32", "data.channels=3"]


def unwritable_output(ctx: Ctx) -> list:
    blocker = ctx.tmp / "results.txt"
    blocker.write_text("a file where the user thought a folder was\n")
    return ["run", ctx.recipe(), "--output", blocker / "run1"]


def read_only_output(ctx: Ctx) -> list:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root can write in a read-only folder")
    folder = ctx.tmp / "shared"
    folder.mkdir()
    folder.chmod(0o555)
    return ["run", ctx.recipe(), "--output", folder / "run1"]


def style_image_not_an_image(ctx: Ctx) -> list:
    """The style picture given to the style-transfer recipe is a PDF saved with a .jpg name."""
    style = ctx.tmp / "starry_night.jpg"
    style.write_bytes(b"%PDF-1.4\n% not a picture\n")
    return ["run", REPO / "recipes" / "style_transfer.yaml", "--output", ctx.tmp / "out", f"data.style={style}",
            "task.steps=1", "task.image_size=32"]


def missing_style_image(ctx: Ctx) -> list:
    """The content picture exists; the style picture (whose path ends like the content's) doesn't."""
    from PIL import Image

    Image.new("RGB", (8, 8)).save(ctx.tmp / "a.jpg")
    return ["run", REPO / "recipes" / "style_transfer.yaml", "--dry-run",
            f"data.content={ctx.tmp / 'a.jpg'}", f"data.style={ctx.tmp / 'styles' / 'a.jpg'}"]


def base_cycle(ctx: Ctx) -> list:
    ctx.recipe("base: b.yaml\n" + RECIPE, name="a.yaml")
    ctx.recipe("base: a.yaml\nseed: 1\n", name="b.yaml")
    return ["run", ctx.tmp / "a.yaml", "--dry-run"]


def python_tag(ctx: Ctx) -> list:
    recipe = ctx.recipe(RECIPE + f"description: !!python/object/apply:os.system ['touch {ctx.marker}']\n")
    return ["run", recipe, "--dry-run"]


def fifo_recipe(ctx: Ctx) -> list:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(ctx.tmp / "pipe.yaml")
    return ["run", "pipe.yaml", "--dry-run"]


def nothing_written(ctx: Ctx) -> None:
    assert sorted(p.name for p in ctx.tmp.iterdir()) == ["r.yaml"]  # no runs/ either
    assert not (ctx.tmp.parent.parent / "elsewhere").exists()  # where runs/a/../../../../elsewhere leads


# -- plugins, installed for real (subprocess) ---------------------------------------------------

PLUGIN_MODEL = '''
from zoo import hookimpl

@hookimpl
def zoo_register_models(registry):
    registry.register("{name}", "{package}.models:build", summary="A tiny net")
'''
PLUGIN_MODELS = '''
from torch import nn

def build(num_classes: int = 10, in_channels: int = 1, image_size: int = 8):
    """A linear classifier."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size * image_size, num_classes))
'''


def install_plugin(ctx: Ctx, package: str, plugin_source: str, model_name: str = "acme/net") -> None:
    site = ctx.tmp / "site"
    write_plugin_dist(site, package.replace("_", "-"), "0.1", {package: f"{package}.plugin"}, {
        f"{package}/__init__.py": "",
        f"{package}/plugin.py": plugin_source.replace("{name}", model_name).replace("{package}", package),
        f"{package}/models.py": PLUGIN_MODELS,
    })
    if site not in ctx.extra_path:
        ctx.extra_path.append(site)


def plugin_recipe(ctx: Ctx, model: str = "acme/net") -> list:
    recipe = ctx.edited("{name: mlp, hidden: [32]}", f"{{name: {model}}}")
    return ["run", recipe, "--output", ctx.tmp / "out"]


def plugin_raising_on_import(ctx: Ctx) -> list:
    install_plugin(ctx, "acme_broken", "raise RuntimeError('acme needs a licence key')\n" + PLUGIN_MODEL)
    return plugin_recipe(ctx)


def plugin_misspelled_hook(ctx: Ctx) -> list:
    install_plugin(ctx, "acme_typo", PLUGIN_MODEL.replace("def zoo_register_models", "def zoo_register_model"))
    return plugin_recipe(ctx)


def two_plugins_one_name(ctx: Ctx) -> list:
    install_plugin(ctx, "acme_one", PLUGIN_MODEL)
    install_plugin(ctx, "acme_two", PLUGIN_MODEL)
    return plugin_recipe(ctx)


def plugin_hanging_on_import(ctx: Ctx) -> list:
    ctx.env["ZOO_PLUGIN_TIMEOUT"] = "2"
    install_plugin(ctx, "acme_slow", "import time\ntime.sleep(600)\n" + PLUGIN_MODEL)
    return plugin_recipe(ctx)


def plugin_raising_keyboard_interrupt(ctx: Ctx) -> list:
    install_plugin(ctx, "acme_ctrlc", "raise KeyboardInterrupt\n" + PLUGIN_MODEL)
    return plugin_recipe(ctx)
# -- issue 19: data, weights, classification (setups) ------------------------------------------


def model_recipe(ctx: Ctx, model: str, *overrides: str) -> list:
    recipe = ctx.edited("{name: mlp, hidden: [32]}", model)
    return ["run", recipe, "--output", ctx.tmp / "out", *overrides]


def resnet18_weights(seed: int = 0, **kwargs) -> dict:
    import timm

    torch.manual_seed(seed)
    return timm.create_model("resnet18", **kwargs).state_dict()


def timm_weights_of_one_tensor(ctx: Ctx) -> list:
    path = ctx.tmp / "only_conv1.pt"
    torch.save({"conv1.weight": resnet18_weights()["conv1.weight"]}, path)
    return model_recipe(ctx, f"{{name: timm/resnet18, weights: {path}}}")


def timm_hf_cache_with_a_small_head(ctx: Ctx) -> list:
    """A file planted in the Hugging Face cache (the blob named by its real SHA-256) holding a 3x3 classifier."""
    import hashlib

    from safetensors.torch import save

    payload = save({"fc.weight": torch.zeros(3, 3)})
    repo = ctx.tmp / "hf" / "models--timm--resnet18.a1_in1k"
    commit = "0123456789abcdef0123456789abcdef01234567"
    digest = hashlib.sha256(payload).hexdigest()
    (repo / "blobs").mkdir(parents=True)
    (repo / "blobs" / digest).write_bytes(payload)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "model.safetensors").symlink_to(Path("..") / ".." / "blobs" / digest)
    ctx.monkeypatch.setenv("HF_HUB_CACHE", str(ctx.tmp / "hf"))
    ctx.monkeypatch.setenv("ZOO_OFFLINE", "1")
    return model_recipe(ctx, "{name: timm/resnet18, pretrained: true}")


def torchvision_weights_without_layer4(ctx: Ctx) -> list:
    import torchvision.models as tv_models

    path = ctx.tmp / "no_layer4.pth"
    torch.save({k: v for k, v in tv_models.resnet18().state_dict().items() if not k.startswith("layer4.")}, path)
    return model_recipe(ctx, f"{{name: torchvision/resnet18, weights: {path}}}")


def densenet_weights_of_one_tensor(ctx: Ctx) -> list:
    import torchvision.models as tv_models

    path = ctx.tmp / "conv0.pth"
    torch.save({"features.conv0.weight": tv_models.densenet121().features.conv0.weight.detach()}, path)
    return model_recipe(ctx, f"{{name: densenet121, weights: {path}}}", "data.image_size=32", "data.channels=3")


def timm_weights_without_network(ctx: Ctx) -> list:
    ctx.monkeypatch.setenv("HF_HUB_CACHE", str(ctx.tmp / "hf"))
    ctx.monkeypatch.setenv("TORCH_HOME", str(ctx.tmp / "torch-home"))
    for var in ("ZOO_OFFLINE", "HF_HUB_OFFLINE", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        ctx.monkeypatch.delenv(var, raising=False)
    for var in ("https_proxy", "http_proxy"):  # a proxy that refuses: no network, on any machine
        ctx.monkeypatch.setenv(var, "http://127.0.0.1:9")
    return model_recipe(ctx, "{name: timm/resnet18, pretrained: true}")


def weights_pickled_with_protocol_4(ctx: Ctx) -> list:
    path = ctx.tmp / "protocol4.pt"
    torch.save({"fc1.weight": torch.zeros(32, 64)}, path, pickle_protocol=4)
    return model_recipe(ctx, f"{{name: timm/resnet18, weights: {path}}}")


def image_linked_into_two_classes(ctx: Ctx) -> list:
    root = good_image_folder(ctx)
    (root / "dog" / "also_a_dog.png").symlink_to(root / "cat" / "cat_0.png")
    return ["run", folder_recipe(ctx), "--output", ctx.tmp / "out"]


def single_class_folder(ctx: Ctx) -> list:
    write_image_folder(ctx.tmp / "images", ["cat"], per_class=6, size=(20, 20))
    return ["run", folder_recipe(ctx), "--output", ctx.tmp / "out"]


def decompression_bomb(ctx: Ctx) -> list:
    """A PNG of 95 million pixels (12 kB on disk): more than PIL decodes without warning."""
    from PIL import Image

    root = good_image_folder(ctx)
    Image.new("1", (10000, 9500)).save(root / "cat" / "huge.png")
    return ["run", folder_recipe(ctx), "--output", ctx.tmp / "out"]


def cifar_with_string_labels(ctx: Ctx) -> list:
    folder = write_cifar10(ctx.tmp / "data")["folder"]
    with open(folder / "data_batch_1", "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump(dict(entry, labels=["airplane"] * len(entry["labels"])), f, protocol=2)
    return ["run", cifar_recipe(ctx), "--output", ctx.tmp / "out"]


def third_party_loss(ctx: Ctx, name: str, build: Callable) -> list:
    """``acme/<name>``: a loss registered by a third-party plugin, in the recipe."""
    from zoo import hookimpl
    from zoo.plugins import get_manager

    class Losses:
        @hookimpl
        def zoo_register_losses(self, registry):
            registry.register(f"acme/{name}", build)

    get_manager().register(Losses(), "acme")
    return ["run", ctx.edited("{name: cross_entropy}", f"{{name: acme/{name}}}"), "--output", ctx.tmp / "out"]


def regression_loss(ctx: Ctx) -> list:
    from torch import nn

    def l1() -> nn.Module:
        """Mean absolute error (a regression loss)."""
        return nn.L1Loss()

    return third_party_loss(ctx, "l1", l1)


def per_sample_loss(ctx: Ctx) -> list:
    from torch import nn

    def per_sample() -> nn.Module:
        """Cross-entropy of each sample, not averaged."""
        return nn.CrossEntropyLoss(reduction="none")

    return third_party_loss(ctx, "per_sample", per_sample)


# -- the table ---------------------------------------------------------------------------------

LINE = r"r\.yaml:\d+"  # file:line in the recipe
# -- issue 16: zoo sweep (the rows' setups)


def sweep_args(ctx: Ctx, *args: str) -> list:
    """``zoo sweep`` of the row's recipe with ``args``, into ``ctx.tmp/sweep``."""
    return ["sweep", ctx.recipe(), *args, "--output", ctx.tmp / "sweep"]


def no_sweep_folder(ctx: Ctx) -> None:
    assert not (ctx.tmp / "sweep").exists()


def not_made(path: Path) -> None:
    assert not path.exists(), f"{path} was made"


def onnx_with_wrong_read_size(ctx: Ctx) -> list:
    """An ONNX export of the trained run whose card reads images at 16x16 for a model of 8x8 inputs."""
    import json

    import onnx

    run = ctx.trained()
    assert main(["export", str(run), "--format", "onnx", "--output", str(ctx.tmp / "right.onnx")]) == 0
    model = onnx.load(str(ctx.tmp / "right.onnx"))
    card = json.loads(model.metadata_props[0].value)
    card["preprocessing"]["read"]["size"] = [16, 16]
    model.metadata_props[0].value = json.dumps(card)
    onnx.save(model, str(ctx.tmp / "wrong.onnx"))
    write_image_folder(ctx.tmp / "images", classes=("a",), per_class=1, size=(8, 8), formats=("png",), mode="L")
    return ["predict", ctx.tmp / "wrong.onnx", ctx.tmp / "images"]

CASES = [
    # recipes
    Case("yaml syntax error", lambda c: ["run", c.edited("lr: 0.003}", "lr: 0.003"), "--dry-run"],
         rf"{LINE}:\d+: .*(expected|flow mapping)"),
    Case("duplicate key", lambda c: ["run", c.recipe(RECIPE + "model: {name: cnn}\n"), "--dry-run"],
         rf"{LINE}:\d+: duplicate key model \(first given at line 4\)"),
    Case("unknown top-level section", lambda c: ["run", c.edited("model:", "modle:"), "--dry-run"],
         rf"{LINE}: unknown top-level key 'modle' \(did you mean 'model'\?\)"),
    Case("unknown component name", lambda c: ["run", c.edited("name: mlp", "name: mpl"), "--dry-run"],
         rf"{LINE}: model\.name: unknown model 'mpl' \(did you mean 'mlp'.*\)"),
    Case("unknown factory key", lambda c: ["run", c.edited("lr: 0.003", "lrr: 0.003"), "--dry-run"],
         rf"{LINE}: optimizer\.lrr: unknown key for optimizer 'adam' \(did you mean 'lr'\?\); accepted: lr, "),
    Case("wrong value type", lambda c: ["run", c.edited("epochs: 1", "epochs: ten"), "--dry-run"],
         rf"{LINE}: task\.epochs: expected int in \(0, 1000000\], got 'ten' \(str\)"),
    Case("negative learning rate", lambda c: ["run", c.edited("lr: 0.003", "lr: -0.003"), "--dry-run"],
         rf"{LINE}: optimizer\.lr: expected float > 0, got -0\.003 \(float\)$"),
    Case("zero learning rate", lambda c: ["run", c.recipe(), "--dry-run", "optimizer.lr=0"],
         r"command line \(optimizer\.lr=0\): optimizer\.lr: expected float > 0, got 0 \(int\)$"),
    Case("negative weight decay", lambda c: ["run", c.edited("lr: 0.003", "lr: 0.003, weight_decay: -1"), "--dry-run"],
         rf"{LINE}: optimizer\.weight_decay: expected float >= 0, got -1 \(int\)$"),
    Case("zero batch size", lambda c: ["run", c.edited("batch_size: 64", "batch_size: 0"), "--dry-run"],
         rf"{LINE}: task\.batch_size: expected int in \(0, 10000000\], got 0 \(int\)$"),
    Case("zero epochs", lambda c: ["run", c.edited("epochs: 1", "epochs: 0"), "--dry-run"],
         rf"{LINE}: task\.epochs: expected int in \(0, 1000000\], got 0 \(int\)$"),
    Case("negative epochs", lambda c: ["run", c.recipe(), "--dry-run", "task.epochs=-5"],
         r"command line \(task\.epochs=-5\): task\.epochs: expected int in \(0, 1000000\], got -5 \(int\)$"),
    Case("valid_fraction above 1", lambda c: ["run", c.edited("plots: false", "plots: false, valid_fraction: 1.5"),
                                              "--dry-run"],
         rf"{LINE}: task\.valid_fraction: expected float in \(0, 1\), got 1\.5 \(float\)$"),
    Case("valid_fraction of 0", lambda c: ["run", c.recipe(), "--dry-run", "task.valid_fraction=0"],
         r"command line \(task\.valid_fraction=0\): task\.valid_fraction: expected float in \(0, 1\), got 0 \(int\)$"),
    Case("base: cycle", base_cycle, r"b\.yaml:1: base: cycle .*a\.yaml -> .*b\.yaml -> .*a\.yaml"),
    Case("override of a key that doesn't exist", lambda c: ["run", c.recipe(), "--dry-run", "optimizer.lrr=0.1"],
         r"command line \(optimizer\.lrr=0\.1\): optimizer\.lrr: unknown key for optimizer 'adam' \(did you mean 'lr'\?\)"),
    Case("override of a section that doesn't exist", lambda c: ["run", c.recipe(), "--dry-run", "modle.hidden=[8]"],
         r"override 'modle\.hidden=\[8\]': unknown top-level key 'modle' \(did you mean 'model'\?\)"),
    Case("recipe tag that would run code", python_tag, rf"{LINE}:\d+: unsupported tag !!python/object/apply:os\.system",
         after=payload_never_ran),
    # data
    Case("missing data folder", lambda c: ["run", folder_recipe(c), "--output", c.tmp / "out"],
         rf"{LINE}: data: imagefolder: root .*images does not exist; expected .*images/train"),
    Case("MNIST files missing", lambda c: (c.tmp / "data").mkdir() or ["run", mnist_recipe(c), "--output", c.tmp / "out"],
         rf"{LINE}: data: mnist: missing train-images-idx3-ubyte, .* in .*data/MNIST/raw; set download: true"),
    Case("data root from the command line", lambda c: ["run", mnist_recipe(c), "--dry-run", f"data.root={c.tmp / 'nowhere'}"],
         r"command line \(data\.root=.*nowhere\): data: mnist: missing train-images-idx3-ubyte, .* in .*nowhere/MNIST/raw"),
    Case("MNIST file truncated", lambda c: truncate(write_mnist(c.tmp / "data")["files"][0]) or [
        "run", mnist_recipe(c), "--output", c.tmp / "out"],
         rf"{LINE}: data: mnist: cannot read .*MNIST/raw/train-images-idx3-ubyte: .*\(truncated or corrupt\?\)"),
    Case("CIFAR files missing", lambda c: (write_cifar10(c.tmp / "data")["folder"] / "data_batch_4").unlink() or [
        "run", cifar_recipe(c), "--output", c.tmp / "out"],
         rf"{LINE}: data: cifar10: missing data_batch_4 in .*cifar-10-batches-py"),
    Case("CIFAR file truncated", lambda c: truncate(write_cifar10(c.tmp / "data")["folder"] / "data_batch_2") or [
        "run", cifar_recipe(c), "--output", c.tmp / "out"],
         rf"{LINE}: data: cifar10: cannot read .*cifar-10-batches-py/data_batch_2: "),
    Case("CIFAR batch that is a malicious pickle", malicious_cifar,
         r"cifar10: cannot read .*data_batch_3: refused: it names .*open, which loading would call",
         after=payload_never_ran),
    Case("ImageFolder with an empty class", empty_class, r"imagefolder: class folder .*images/zebra holds no image files"),
    Case("ImageFolder with a corrupt image", lambda c: write_truncated_image(
        good_image_folder(c) / "dog" / "dog_9.jpg", keep=0.3) and ["run", folder_recipe(c), "--output", c.tmp / "out"],
         r"cannot read image .*images/dog/dog_9\.jpg: .*set on_error: skip"),
    Case("ImageFolder with a non-image file", lambda c: write_not_an_image(
        good_image_folder(c) / "cat" / "README.png") and ["run", folder_recipe(c), "--output", c.tmp / "out"],
         r"cannot read image .*images/cat/README\.png: cannot identify image file"),
    Case("style image that isn't an image", style_image_not_an_image,
         r"^command line \(data\.style=.*starry_night\.jpg\): data\.style: .*starry_night\.jpg is not an image Pillow can read"),
    Case("missing style image beside a content image of a similar name",
         missing_style_image,
         r"^command line \(data\.style=.*styles/a\.jpg\): data\.style: image file not found: .*styles/a\.jpg$"),
    Case("label at or above the number of classes", mnist_with_label_10,
         r"MNIST/raw/train-labels-idx1-ubyte: labels must lie in 0\.\.9, found 0\.\.10"),
    Case("num_classes in the recipe disagreeing with the data",
         lambda c: ["run", c.edited("hidden: [32]", "hidden: [32], num_classes: 3"), "--output", c.tmp / "out"],
         rf"{LINE}: model 'mlp' gives outputs of shape \(4, 3\) but the data has 10 classes"),
    Case("model output size not the number of classes", fixed_outputs_model,
         rf"{LINE}: model 'acme/imagenet_head' gives outputs of shape \(4, 1000\) but the data has 10 classes"),
    # checkpoints and weights
    Case("checkpoint of another architecture (eval)", lambda c: eval_with(c, unchanged, "model.hidden=[16, 16]"),
         r"run/checkpoints/best\.pt: its weights do not fit model 'mlp' as .*recipe\.yaml:\d+ "
         r"\(with model\.hidden=\[16, 16\] from the command line\) builds it now "
         r"\(shapes differ: fc1\.weight \(32, 64\) in the file, \(16, 64\) in the model.*; missing from the file: fc3"),
    Case("checkpoint of another architecture (resume)", lambda c: resume_with(c, "last.pt", unchanged, "model.hidden=[8]"),
         r"--resume .*run: checkpoints/last\.pt does not fit model 'mlp' as .*recipe\.yaml:\d+ "
         r"\(with model\.hidden=\[8\] from the command line\) builds it now "
         r"\(shapes differ: fc1\.weight \(32, 64\) in the file, \(8, 64\) in the model",
         after=recipe_untouched),
    Case("weights file of another architecture", other_architecture_weights,
         r"weights file .*best\.pt does not fit DenseNet: keys the model does not have: fc1\.weight"),
    Case("truncated checkpoint (resume)", lambda c: resume_with(c, "last.pt", truncate),
         r"cannot read checkpoint .*run/checkpoints/last\.pt: truncated or not a PyTorch file",
         after=recipe_untouched),
    Case("truncated checkpoint (eval)", lambda c: eval_with(c, truncate),
         r"cannot read checkpoint .*run/checkpoints/best\.pt: truncated or not a PyTorch file"),
    Case("checkpoint that is a malicious pickle (resume)", lambda c: resume_with(c, "last.pt", evil_pickle(c)),
         r"refusing to load .*run/checkpoints/last\.pt: it holds more than tensors and plain values "
         r"\(loading it could run code\): Unsupported global: GLOBAL io\.open",
         after=lambda c: payload_never_ran(c) or recipe_untouched(c)),
    Case("checkpoint that is a malicious pickle (eval)", lambda c: eval_with(c, evil_pickle(c)),
         r"refusing to load .*run/checkpoints/best\.pt: it holds more than tensors",
         after=payload_never_ran),
    Case("malicious pickle planted in the torch cache", planted_hub_weights,
         r"weights file .*torch-home/hub/checkpoints/densenet121-a639ec97\.pth fails its hash check",
         after=payload_never_ran),
    Case("weights file that is a malicious pickle", evil_weights_file,
         r"weights file .*downloaded_weights\.pth holds objects other than tensors .*refused",
         after=payload_never_ran),
    # the run folder and the disk
    Case("output folder inside a file", unwritable_output, r"cannot write the run folder .*results\.txt/run1: "),
    Case("read-only output folder", read_only_output, r"cannot write the run folder .*shared/run1: Permission denied"),
    Case("full disk while saving a checkpoint", disk_full_at_second_best,
         r"cannot write .*out/checkpoints/best\.pt: \[Errno 28\] No space left on device; the previous best\.pt "
         r"is intact; free some space, then continue after epoch 1 with: zoo run --resume .*out$",
         status=1, after=best_epoch_is_1),
    # training health
    Case("NaN in the training data", nan_in("train"),
         r"the training loss is nan at epoch 1, step \d+ of 5; last good checkpoint: none yet",
         status=1, after=no_best_checkpoint),
    Case("NaN validation loss", nan_in("valid"),
         r"the validation loss is nan in epoch 1 .*not taken as the best; last good checkpoint: none yet",
         status=1, after=no_best_checkpoint),
    # plugins, installed as distributions and loaded in a fresh process
    Case("plugin that raises on import", plugin_raising_on_import,
         r"r\.yaml:\d+: model\.name: unknown model 'acme/net'; .*plugin 'acme_broken' failed to load",
         subprocess=True),
    Case("plugin with a misspelled hook", plugin_misspelled_hook,
         r"r\.yaml:\d+: model\.name: unknown model 'acme/net'; .*plugin 'acme_typo' failed to load",
         subprocess=True),
    Case("two plugins registering one name", two_plugins_one_name,
         r"r\.yaml:\d+: model\.name: model 'acme/net' is registered by plugins "
         r"('acme_one' and 'acme_two'|'acme_two' and 'acme_one'); uninstall one of them",
         subprocess=True),
    # -- issue 19: recipes, command line, plugins, catalog
    Case("base: /dev/zero", lambda c: ["run", c.recipe("base: /dev/zero\n" + RECIPE), "--dry-run"],
         rf"{LINE}: /dev/zero: is a character device, not a recipe file \(a recipe is a regular file\)$"),
    Case("recipe that is a FIFO", fifo_recipe, r"^pipe\.yaml: is a FIFO \(named pipe\), not a recipe file"),
    Case("recipe name that leads out of runs/", lambda c: ["run", c.recipe(), "name=a/../../../../elsewhere"],
         r"command line \(name=a/\.\./\.\./\.\./\.\./elsewhere\): name: 'a/\.\./\.\./\.\./\.\./elsewhere' is not a "
         r"valid recipe name .*it names the run's folder under runs/", after=nothing_written),
    Case("seed too large for 64 bits", lambda c: ["run", c.edited("seed: 0", f"seed: {10 ** 40}"), "--dry-run"],
         rf"{LINE}: seed: expected an int from 0 to 2\*\*63 - 1, got {10 ** 40} \(int\)$"),
    Case("infinite learning rate", lambda c: ["run", c.recipe(), "--dry-run", "optimizer.lr=.inf"],
         r"command line \(optimizer\.lr=\.inf\): optimizer\.lr: expected float > 0, got inf \(float\): "
         r"input should be a finite number$"),
    Case("learning rate of 1e400", lambda c: ["run", c.edited("lr: 0.003", "lr: 1e400"), "--dry-run"],
         rf"{LINE}: optimizer\.lr: expected float > 0, got inf \(float\): input should be a finite number$"),
    Case("batch size of 10**40", lambda c: ["run", c.recipe(), "--dry-run", f"task.batch_size={10 ** 40}"],
         rf"task\.batch_size: expected int in \(0, 10000000\], got {10 ** 40} \(int\)$"),
    Case("epochs of 10**40", lambda c: ["run", c.edited("epochs: 1", f"epochs: {10 ** 40}"), "--dry-run"],
         rf"{LINE}: task\.epochs: expected int in \(0, 1000000\], got {10 ** 40} \(int\)$"),
    Case("model name that lives in namespaces", lambda c: ["run", c.recipe(), "--dry-run", "model.name=resnet18"],
         r"command line \(model\.name=resnet18\): model\.name: unknown model 'resnet18' "
         r"\(did you mean 'timm/resnet18', 'torchvision/resnet18'\?\)"),
    Case("plugin that hangs at import", plugin_hanging_on_import,
         r"r\.yaml:\d+: model\.name: unknown model 'acme/net'; .*plugin 'acme_slow' failed to load",
         subprocess=True),
    Case("plugin that raises KeyboardInterrupt at import", plugin_raising_keyboard_interrupt,
         r"r\.yaml:\d+: model\.name: unknown model 'acme/net'; .*plugin 'acme_ctrlc' failed to load",
         subprocess=True),
    # -- issue 19: data, weights, classification
    Case("timm weights file holding one tensor", timm_weights_of_one_tensor,
         rf"{LINE}: model: weights file .*only_conv1\.pt does not fit ResNet: keys missing from the file: "
         r"bn1\.weight, bn1\.bias, "),
    Case("timm weights in the Hugging Face cache holding a 3x3 classifier", timm_hf_cache_with_a_small_head,
         r"weights file .*models--timm--resnet18\.a1_in1k/snapshots/\w+/model\.safetensors does not fit ResNet: "
         r"keys missing from the file: conv1\.weight, bn1\.weight"),
    Case("torchvision weights file without its last block", torchvision_weights_without_layer4,
         r"weights file .*no_layer4\.pth does not fit ResNet: keys missing from the file: layer4\.0\.conv1\.weight"),
    Case("densenet121 weights file holding one tensor", densenet_weights_of_one_tensor,
         r"weights file .*conv0\.pth does not fit DenseNet: keys missing from the file: features\.norm0\.weight"),
    Case("timm pretrained weights without network", timm_weights_without_network,
         r"pretrained weights for timm/resnet18 not found: looked for .*hf/models--timm--resnet18\.a1_in1k.* and "
         r".*torch-home/hub/checkpoints/resnet18_a1_0-d63eafa0\.pth; no network \(proxy 127\.0\.0\.1:9: .*\): "
         r"get them on a machine with network \(hf download timm/resnet18\.a1_in1k or https://\S+\) and copy them "
         r"there, or set weights: PATH; ZOO_OFFLINE=1 stops zoo trying the network$"),
    Case("weights file pickled with protocol 4", weights_pickled_with_protocol_4,
         r"weights file .*protocol4\.pt was pickled with protocol 4, which torch\.load\(weights_only=True\) "
         r"cannot read .*; save it again with torch\.save's default protocol, or as a \.safetensors file$"),
    Case("ImageFolder image linked into two classes", image_linked_into_two_classes,
         r"imagefolder: .*images/dog/also_a_dog\.png \(dog\) and .*images/cat/cat_0\.png \(cat\) are the same "
         r"file \(.*\); an image belongs to one class of one split"),
    Case("single-class image folder", single_class_folder,
         rf"{LINE}: data 'imagefolder' has only one class \(cat\) in .*images: a classifier needs at least two"),
    Case("image too large to decode safely", decompression_bomb,
         r"cannot read image .*images/cat/huge\.png: Image size \(95000000 pixels\) exceeds limit of \d+ pixels, "
         r"could be decompression bomb"),
    Case("CIFAR batch with string labels", cifar_with_string_labels,
         rf"{LINE}: data: cifar10: cannot read .*data_batch_1: 'labels' holds 'airplane' \(str\) where class "
         r"numbers belong"),
    Case("regression loss on class labels", regression_loss,
         rf"{LINE}: loss 'acme/l1' cannot take the model's \(4, 10\) outputs with the data's class labels "
         r"\(\(4,\), torch\.int64\): RuntimeError: The size of tensor a \(10\) must match"),
    Case("loss giving one value per sample", per_sample_loss,
         rf"{LINE}: loss 'acme/per_sample' gives \(4,\) for the model's \(4, 10\) outputs .*; training needs "
         r"one number"),
    # -- issue 19: runs, resume, signals
    Case("resume from a last.pt whose epoch is a string", lambda c: resume_with(c, "last.pt", altered(epoch="1")),
         r"--resume .*run: checkpoints/last\.pt: epoch must be an int >= 0, found '1' \(str\); the file was altered",
         after=recipe_untouched),
    Case("resume from a last.pt whose rng is a list", lambda c: resume_with(c, "last.pt", altered(rng=[1, 2])),
         r"--resume .*run: checkpoints/last\.pt: rng must be the random generators' state \(a dict\), found list"),
    Case("resume from a last.pt whose rng holds the wrong types",
         lambda c: resume_with(c, "last.pt", altered(rng={"python": "abc", "numpy": {}, "torch": 3})),
         r"--resume .*run: checkpoints/last\.pt: rng is not the random generators' state zoo saves \(\w+Error: "),
    Case("random bytes as last.pt (resume)", lambda c: resume_with(c, "last.pt", random_bytes),
         r"cannot read checkpoint .*run/checkpoints/last\.pt: it is not a PyTorch checkpoint \(torch\.save writes a "
         r"zip archive; this file begins with bytes ([0-9a-f]{2} ){7}[0-9a-f]{2}\)$", after=recipe_untouched),
    Case("a text file as best.pt (eval)", lambda c: eval_with(c, lambda path: path.write_text("epoch: 3\n")),
         r"cannot read checkpoint .*run/checkpoints/best\.pt: it is not a PyTorch checkpoint \(.*begins with bytes "
         r"65 70 6f 63 68 3a 20 33\)$"),
    Case("resume from a last.pt with NaN weights", lambda c: resume_with(c, "last.pt", nan_weights),
         r"--resume .*run: checkpoints/last\.pt \(epoch 1\) holds NaN or infinite weights \(fc1\.weight, fc2\.bias\): "
         r"training cannot continue from it; run the recipe again", status=1, after=recipe_untouched),
    # issue 17: zoo list models --where / --sort / --columns
    Case("--where names an unknown column", lambda c: ["list", "models", "--where", "parms < 10M"],
         r"^--where: unknown column 'parms' \(did you mean 'params'\?\) at position 1 of 'parms < 10M'; "
         r"columns: name, params, gmacs, top1, .*, plugin, summary; a string is quoted: 'parms'$"),
    Case("--where with a bad unit", lambda c: ["list", "models", "--where", "params < 10X and pretrained"],
         r"^--where: unknown unit 'X' in '10X' at position 10 of 'params < 10X and pretrained'; units: K \(10\^3\), "
         r"M \(10\^6\), G \(10\^9\), T \(10\^12\), % \(none\)$"),
    Case("--where cut short", lambda c: ["list", "models", "--where", "params < 10M and"],
         r"^--where: expected a column name, got the end at position 17 of 'params < 10M and'$"),
    Case("--where with an unclosed parenthesis", lambda c: ["list", "models", "--where", "(top1 > 80 or pretrained"],
         r"^--where: expected '\)' to close the '\(' at position 1, got the end at position 25 of "),
    Case("--where compares text with a number", lambda c: ["list", "models", "--where", "license < 10M"],
         r"^--where: license holds text values; 10M is a number value at position 11 of 'license < 10M'$"),
    Case("--where with Python in it", lambda c: ["list", "models", "--where", "__import__('os').system('id')"],
         r"^--where: unexpected character '\.' at position 17 of \"__import__\('os'\)\.system\('id'\)\"$"),
    Case("--sort by an unknown column", lambda c: ["list", "models", "--sort=-acc"],
         r"^--sort: unknown column 'acc'; columns: name, params, .* \(-COLUMN sorts high to low: --sort=-top1\)$"),
    Case("--columns names an unknown column", lambda c: ["list", "models", "--columns", "name,flops"],
         r"^--columns: unknown column 'flops'; columns: name, params, gmacs, "),
    Case("--where on datasets", lambda c: ["list", "datasets", "--where", "params < 10M"],
         r"^--pretrained, --where, --sort, --columns and --compute-cards list models, not datasets"),
    Case("--sort -COLUMN without '='", lambda c: ["list", "models", "--sort", "-top1"],
         r"^argument --sort: expected one argument; to sort high to low write --sort=-top1 \(with '='"),
    Case("--where compares true/false with a word", lambda c: ["list", "models", "--where", "pretrained = yes"],
         r"^--where: pretrained is true or false: write pretrained = true \(or false\), not yes at position 14 "),
    Case("zoo info without its KIND", lambda c: ["info", "timm/resnet50.a1_in1k"],
         r"^zoo info takes a KIND before the NAME: zoo info model timm/resnet50\.a1_in1k$"),
    Case("--compute-cards with a cache folder that is a file", lambda c: cards_in_a_file(c),
         r"^cannot keep the computed cards in .*cache-file: .*; set ZOO_CACHE_DIR to a folder zoo can write$"),
    # -- issue 16: zoo sweep, refused before any trial starts (no sweep folder made)
    Case("sweep over an unknown key", lambda c: sweep_args(c, "optimizer.lrr=0.1,0.01"),
         r"^sweep optimizer\.lrr: the value 0\.1 is refused: command line \(optimizer\.lrr=0\.1\): optimizer\.lrr: "
         r"unknown key for optimizer 'adam' "
         r"\(did you mean 'lr'\?\)", after=no_sweep_folder),
    Case("sweep over one value spelt twice", lambda c: sweep_args(c, "optimizer.lr=0.1,1e-1"),
         r"^sweep 'optimizer\.lr=0\.1,1e-1': optimizer\.lr: a value is listed twice", after=no_sweep_folder),
    Case("sweep over a range left open", lambda c: sweep_args(c, "optimizer.lr=loguniform(1e-4,1e-1"),
         r"^sweep 'optimizer\.lr=loguniform\(1e-4,1e-1': optimizer\.lr: a bracket, parenthesis or quote is not "
         r"closed$", after=no_sweep_folder),
    Case("sweep over an empty list", lambda c: sweep_args(c, "optimizer.lr="),
         r"^sweep 'optimizer\.lr=': optimizer\.lr: no values \(an empty list\)", after=no_sweep_folder),
    Case("sweep list with an empty value", lambda c: sweep_args(c, "optimizer.lr=0.1,,0.01"),
         r"^sweep 'optimizer\.lr=0\.1,,0\.01': optimizer\.lr: an empty value in the list", after=no_sweep_folder),
    Case("sweep loguniform from 0", lambda c: sweep_args(c, "optimizer.lr=loguniform(0,1)", "--trials", "2"),
         r"^sweep 'optimizer\.lr=loguniform\(0,1\)': optimizer\.lr: loguniform needs bounds above 0",
         after=no_sweep_folder),
    Case("sweep range with low above high", lambda c: sweep_args(c, "model.dropout=uniform(0.5,0.1)", "--trials", "2"),
         r"^sweep 'model\.dropout=uniform\(0\.5,0\.1\)': model\.dropout: the low bound 0\.5 is above the high "
         r"bound 0\.1", after=no_sweep_folder),
    Case("sweep with an unknown distribution", lambda c: sweep_args(c, "optimizer.lr=normal(0,1)", "--trials", "2"),
         r"^sweep 'optimizer\.lr=normal\(0,1\)': optimizer\.lr: unknown distribution 'normal'; use loguniform",
         after=no_sweep_folder),
    Case("sweep value of the wrong type", lambda c: sweep_args(c, "optimizer.lr=0.1,fast"),
         r"^sweep optimizer\.lr: the value fast is refused: command line \(optimizer\.lr=fast\): optimizer\.lr: "
         r"expected float > 0, got 'fast' \(str\)", after=no_sweep_folder),
    Case("sweep range bound the factory refuses", lambda c: sweep_args(c, "task.epochs=int(0,3)", "--trials", "2"),
         r"^sweep task\.epochs: the value 0 is refused: .*task\.epochs: expected int in \(0, 1000000\], got 0",
         after=no_sweep_folder),
    Case("sweep grid sampler over a range",
         lambda c: sweep_args(c, "optimizer.lr=loguniform(1e-4,1e-1)", "--sampler", "grid", "--trials", "2"),
         r"^--sampler grid: optimizer\.lr is a range, which has no grid", after=no_sweep_folder),
    Case("sweep resume of a run folder", lambda c: ["sweep", "--resume", c.trained()],
         r"^.*/run: not a sweep folder \(no sweep\.json there\)$"),
    Case("sweep float range over a whole-number key", lambda c: sweep_args(c, "task.epochs=uniform(1,3)", "--trials", "2"),
         r"^sweep task\.epochs: the value 1\.74 is refused \(a whole number is wanted: sweep it with int\(1,3\)\): "
         r".*task\.epochs: expected int", after=no_sweep_folder),
    Case("sweep join of a journal file that is not there",
         lambda c: ["sweep", "--join", "quickstart-1", "--storage", c.tmp / "shared" / "sweep.journal"],
         r"^--storage /.*/shared/sweep\.journal: no such journal file", after=lambda c: not_made(c.tmp / "shared")),
    Case("export to a name zoo predict would misread", lambda c: ["export", c.trained(), "--format", "exported",
                                                                  "--output", c.tmp / "model.pt"],
         r"^--output .*/model\.pt: the file zoo predict reads as exported must end with \.pt2 \(e\.g\. model\.pt2\)$",
         after=lambda c: not (c.tmp / "model.pt").exists() or pytest.fail("a file was written")),
    Case("export into a path under a file", lambda c: (c.tmp / "notes").write_text("mine") and [
        "export", c.trained(), "--format", "onnx", "--output", c.tmp / "notes" / "x.onnx"],
         r"^--output .*/notes/x\.onnx: .*/notes is a file, not a folder to write in$",
         after=lambda c: (c.tmp / "notes").read_text() == "mine" or pytest.fail("notes changed")),
    Case("exported file whose card's preprocessing disagrees with its input", onnx_with_wrong_read_size,
         r"^.*/wrong\.onnx: its model card does not hold together: its preprocessing gives 1x16x16 inputs but its "
         r"input is 1x8x8$"),
]



# -- issue 19: runs, resume, signals (the rows' setups)


def altered(**keys) -> Callable[[Path], None]:
    """Rewrite a checkpoint with ``keys`` replaced (a real torch file, as someone's script would leave it)."""
    def write(path: Path) -> None:
        state = torch.load(path, weights_only=True)
        state.update(keys)
        torch.save(state, path)

    return write


def random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(19).bytes(4096))


def nan_weights(path: Path) -> None:
    """The weights of a run that diverged: NaN and infinite values in two tensors of last.pt."""
    state = torch.load(path, weights_only=True)
    state["model"]["fc1.weight"][0, 0] = float("nan")
    state["model"]["fc2.bias"][1] = float("inf")
    torch.save(state, path)


@pytest.fixture(scope="module")
def trained_source(tmp_path_factory):
    """One finished one-epoch digits run, copied by the rows that need a run folder."""
    folder = tmp_path_factory.mktemp("trained")
    recipe = folder / "r.yaml"
    recipe.write_text(RECIPE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        from zoo.plugins import reset_manager

        reset_manager()
        assert main(["run", str(recipe), "--output", str(folder / "run")]) == 0
        reset_manager()
    return folder / "run"


def test_the_table_has_the_rows_the_issue_asks_for():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_readme_counts_the_table():
    readme = (REPO / "README.md").read_text()
    assert f"`tests/test_bad_inputs.py` holds {len(CASES)} cases" in readme


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line(case, tmp_path, monkeypatch, capsys, trained_source):
    monkeypatch.chdir(tmp_path)
    ctx = Ctx(tmp=tmp_path, monkeypatch=monkeypatch, trained_source=trained_source)
    argv = [str(a) for a in case.setup(ctx)]
    if case.subprocess:
        result = run_zoo(*argv, cwd=tmp_path, env=ctx.env, extra_path=ctx.extra_path + [REPO / "plugins"])
        status, out, err = result.returncode, result.stdout, result.stderr
    else:
        capsys.readouterr()
        status = main(argv)
        out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("zoo: error: ")]
    assert "Traceback" not in err + out, err
    assert len(errors) == 1, err
    message = errors[0][len("zoo: error: "):]
    assert re.search(case.message, message), f"{message!r} does not match {case.message!r}"
    assert status == case.status, err
    if case.after is not None:
        case.after(ctx)

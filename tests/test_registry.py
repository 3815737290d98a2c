"""Registries: registration, lookup, suggestions, conflicts, lazy factories and namespaces."""

from __future__ import annotations

import sys
import textwrap

import pytest

from zoo.errors import UserError
from zoo.kinds import lookup
from zoo.registry import ConflictError, Provenance, Registry, UnknownNameError


def make(kind="models"):
    return Registry(kind)


def test_register_plain_and_decorator_then_create():
    reg = make()

    def small(width: int = 2):
        """A small thing.

        More text."""
        return ("small", width)

    assert reg.register("small", small, tags=("toy",), input_size=(1, 8, 8)) is small

    @reg.register("big", summary="A big thing")
    def big(width: int = 10):
        return ("big", width)

    assert big(1) == ("big", 1)  # the decorator hands the function back unchanged
    assert reg.create("small", width=5) == ("small", 5)
    assert reg.create("big") == ("big", 10)
    entry = reg.get("small")
    assert entry.summary == "A small thing."  # first docstring line by default
    assert entry.tags == ("toy",)
    assert entry.metadata == {"input_size": (1, 8, 8)}
    assert [p for p in entry.signature().parameters] == ["width"]
    assert reg.names() == ["big", "small"]


@pytest.mark.parametrize("bad", ["Upper", "-dash", "", "with space", "a*b", "ümlaut", 3])
def test_invalid_names_are_rejected(bad):
    with pytest.raises(ValueError, match="invalid model name"):
        make().register(bad, lambda: None)


@pytest.mark.parametrize("good", ["mlp", "timm/resnet18", "a.b-c_d/e", "0net"])
def test_valid_names(good):
    reg = make()
    reg.register(good, lambda: 1)
    assert reg.create(good) == 1


def test_unknown_name_suggests_closest():
    reg = make()
    for name in ["resnet18", "resnet34", "densenet121", "mlp"]:
        reg.register(name, lambda: None)
    with pytest.raises(UnknownNameError) as info:
        reg.get("resnet19")
    message = str(info.value)
    assert "unknown model 'resnet19'" in message
    assert "did you mean 'resnet18'" in message
    assert isinstance(info.value, UserError)
    with pytest.raises(UnknownNameError, match="zoo list models"):
        reg.get("zzzzzz")


def test_unknown_name_suggests_namesakes_across_namespaces():
    """``model.name=resnet18`` suggested 'densenet121'; the right answers live in the namespaces."""
    reg = make()
    for name in ["densenet121", "mlp"]:
        reg.register(name, lambda: None)
    reg.register_namespace("timm", lambda name: name, lister=lambda: ["resnet18", "resnet18d", "resnet34"])
    reg.register_namespace("torchvision", lambda name: name, lister=lambda: ["resnet18", "vgg19"])

    def broken():
        raise ImportError("no module named 'acme_catalog'")

    reg.register_namespace("acme", lambda name: name, lister=broken)  # skipped, not fatal
    messages = {}
    for wanted in ["resnet18", "timn/resnet18", "resnt34", "densenet12"]:
        with pytest.raises(UnknownNameError) as info:
            reg.get(wanted)
        messages[wanted] = info.value.suggestions
    assert messages["resnet18"] == ["timm/resnet18", "torchvision/resnet18"]
    assert messages["timn/resnet18"] == ["timm/resnet18", "torchvision/resnet18"]
    assert messages["resnt34"][0] == "timm/resnet34"  # the closest first
    assert messages["densenet12"][0] == "densenet121"  # a close direct name before close members


def test_glob_listing():
    reg = make()
    for name in ["resnet18", "resnet34", "densenet121"]:
        reg.register(name, lambda: None)
    assert [e.name for e in reg.entries("resnet*")] == ["resnet18", "resnet34"]
    assert [e.name for e in reg.entries()] == ["densenet121", "resnet18", "resnet34"]


def test_same_plugin_registering_twice_is_a_bug_in_that_plugin():
    reg = make()
    with reg.contributing(Provenance("acme", "acme-zoo", "1.0")):
        reg.register("net", lambda: 1)
        with pytest.raises(ValueError, match="registered twice by plugin 'acme'"):
            reg.register("net", lambda: 2)


def test_two_plugins_one_name_is_never_a_silent_override():
    reg = make()
    with reg.contributing(Provenance("acme", "acme-zoo", "1.0")):
        reg.register("net", lambda: "acme")
    with reg.contributing(Provenance("other", "other-zoo", "2.0")):
        reg.register("net", lambda: "other")
        reg.register("fine", lambda: "fine")
    assert reg.warnings and "'acme'" in reg.warnings[0] and "'other'" in reg.warnings[0]
    with pytest.raises(ConflictError) as info:
        reg.create("net")
    assert "'acme'" in str(info.value) and "'other'" in str(info.value)
    assert reg.create("fine") == "fine"  # the rest of the second plugin still works


def test_provenance_is_recorded():
    reg = make()
    with reg.contributing(Provenance("acme", "acme-zoo", "1.0")):
        reg.register("net", lambda: 1)
    entry = reg.get("net")
    assert (entry.plugin, entry.distribution, entry.version) == ("acme", "acme-zoo", "1.0")
    described = entry.describe()
    assert described["plugin"] == "acme" and described["kind"] == "model"


def test_remove_plugin_drops_its_entries_and_conflicts():
    reg = make()
    with reg.contributing(Provenance("a")):
        reg.register("x", lambda: "a")
    with reg.contributing(Provenance("b")):
        reg.register("x", lambda: "b")
        reg.register("y", lambda: "b")
    reg.remove_plugin("b")
    assert reg.create("x") == "a"
    assert "y" not in reg


def test_factory_by_import_path_is_imported_only_when_used(tmp_path, monkeypatch):
    module = tmp_path / "lazy_factory_mod.py"
    module.write_text(textwrap.dedent('''
        IMPORTED = True
        def build(size: int = 3):
            """Build a lazy thing."""
            return ["lazy"] * size
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = make()
    reg.register("lazy", "lazy_factory_mod:build")
    assert "lazy_factory_mod" not in sys.modules
    assert reg.get("lazy").summary == ""  # not imported to find a summary
    assert reg.create("lazy", size=2) == ["lazy", "lazy"]
    assert "lazy_factory_mod" in sys.modules
    assert reg.get("lazy").doc == "Build a lazy thing."


def test_namespace_lists_lazily_and_creates_members():
    calls = []

    def lister():
        calls.append(1)
        return ["alpha", ("beta", "The beta one"), "Not-Valid"]

    def factory(name, scale: int = 1):
        return (name, scale)

    reg = make()
    reg.register_namespace("cat", factory, lister=lister, summary="from the catalog")
    assert calls == []  # registering costs nothing
    assert reg.create("cat/alpha", scale=2) == ("alpha", 2)
    entry = reg.get("cat/beta")
    assert entry.summary == "The beta one" and list(entry.signature().parameters) == ["scale"]
    assert [e.name for e in reg.entries("cat/*")] == ["cat/alpha", "cat/beta"]
    assert [e.name for e in reg.entries("al*")] == ["cat/alpha"]  # a glob without '/' looks inside namespaces
    assert reg.get("cat/alpha").summary == "from the catalog"
    with pytest.raises(UnknownNameError, match="did you mean 'cat/alpha'"):
        reg.get("cat/alphaa")
    assert calls == [1]  # listed once


def test_kind_names():
    assert lookup("model").registry == "models"
    assert lookup("Datasets").registry == "datasets"
    with pytest.raises(UserError, match="unknown kind 'gadgets'"):
        lookup("gadgets")

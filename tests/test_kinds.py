"""One table of kinds (zoo.kinds): every word for a kind works wherever a kind is named, and the
table agrees with the registration hooks and the arguments zoo passes first."""

from __future__ import annotations

import inspect
import json

import pytest

from zoo import hookspecs
from zoo.cli import main
from zoo.errors import UserError
from zoo.kinds import KINDS, LISTABLE, by_registry, by_section, lookup
from zoo.registry import Registries, Registry


def zoo(*args, capsys) -> tuple:
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("word", ["loss", "losses", "Loss"])
def test_loss_is_a_kind_for_list_info_and_the_registries(word, capsys):
    status, out, err = zoo("list", word, "--json", capsys=capsys)
    assert status == 0, err
    assert "cross_entropy" in [row["name"] for row in json.loads(out)]
    status, out, err = zoo("info", word, "cross_entropy", capsys=capsys)
    assert status == 0, err
    assert out.startswith("cross_entropy (loss)\n") and "recipe keys (loss: section, besides name):" in out
    registries = Registries()
    assert registries[word] is registries.losses
    assert Registry(word).kind == "losses"


@pytest.mark.parametrize("word, registry", [("model", "models"), ("data", "datasets"), ("dataset", "datasets"),
                                            ("Optimizers", "optimizers"), ("scheduler", "schedulers"),
                                            ("task", "tasks")])
def test_every_word_for_a_kind_names_its_registry(word, registry):
    assert lookup(word).registry == registry
    registries = Registries()
    assert registries[word] is getattr(registries, registry)


def test_an_unknown_kind_names_the_choices(capsys):
    with pytest.raises(UserError, match="unknown kind 'gadgets'; choose one of: models, datasets, losses"):
        lookup("gadgets")
    status, _, err = zoo("list", "gadgets", capsys=capsys)
    assert status == 2 and err.strip() == f"zoo: error: unknown kind 'gadgets'; choose one of: {', '.join(LISTABLE)}"


def test_every_kind_has_its_registration_hook_and_every_hook_a_kind():
    registration = {name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
                    if name.startswith("zoo_register_")}
    assert {kind.hook for kind in KINDS} == registration
    for kind in KINDS:
        assert list(inspect.signature(getattr(hookspecs, kind.hook)).parameters) == ["registry"]
        assert by_section(kind.section) is kind and by_registry(kind.registry) is kind


@pytest.mark.parametrize("kind, name, leading", [("optimizer", "sgd", "params"), ("scheduler", "step", "optimizer")])
def test_info_leaves_out_the_arguments_zoo_passes_first(kind, name, leading, capsys):
    status, out, err = zoo("info", kind, name, "--json", capsys=capsys)
    assert status == 0, err
    shown = [p["name"] for p in json.loads(out)["parameters"]]
    assert leading not in shown and shown  # the rest of the factory's parameters are the recipe's keys
    assert by_section(kind).leading == (leading,)

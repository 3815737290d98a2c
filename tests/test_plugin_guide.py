"""The plugin guide (docs/plugins.md) tells the truth about zoo/hookspecs.py: every hook is there
with its exact signature, nothing else is documented as a hook, and its example plugins load."""

from __future__ import annotations

import inspect
import re
import types

import pytest

from tests.conftest import REPO
from zoo import hookspecs
from zoo.markers import PROJECT
from zoo.plugins import PluginManager

GUIDE = REPO / "docs" / "plugins.md"
# a hook's heading: ### `zoo_run_end(run: Run, report: dict, error: Optional[BaseException]) -> None`
HOOK_HEADING = re.compile(r"^#+ `(zoo_\w+)(\(.*)`\s*$", re.MULTILINE)

SPECS = {name: function for name, function in vars(hookspecs).items()
         if getattr(function, f"{PROJECT}_spec", None) is not None}


def signature_of(spec) -> str:
    """``(run: Run, epoch: int, ...) -> None``: the spec's signature as written in its source."""
    return str(inspect.signature(spec)).replace("'", "")  # the annotations are strings (postponed)


def documented() -> dict:
    return {name: signature for name, signature in HOOK_HEADING.findall(GUIDE.read_text())}


def python_block(first_line: str) -> str:
    """The ```python block of the guide whose first line is ``first_line``."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    (block,) = [b for b in blocks if b.splitlines()[0] == first_line]
    return block


def test_the_hooks_are_all_found():
    assert {"zoo_register_models", "zoo_recipe_dirs", "zoo_run_start", "zoo_epoch_end", "zoo_run_end"} <= set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_is_documented_with_its_exact_signature(name):
    headings = documented()
    assert name in headings, f"docs/plugins.md has no heading for {name}{signature_of(SPECS[name])}"
    assert headings[name] == signature_of(SPECS[name]), f"docs/plugins.md documents {name} with another signature"


def test_the_guide_documents_no_hook_that_does_not_exist():
    assert sorted(set(documented()) - set(SPECS)) == []


def test_the_readme_names_every_hook_and_links_the_guide():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    assert "docs/plugins.md" in section
    assert [name for name in sorted(SPECS) if f"`{name}`" not in section] == []


def load_block(first_line: str, name: str) -> PluginManager:
    module = types.ModuleType(name)
    exec(compile(python_block(first_line), f"docs/plugins.md ({name})", "exec"), module.__dict__)
    pm = PluginManager()
    pm.register(module, name)
    return pm


def test_the_guides_first_plugin_loads_and_registers(capsys):
    pm = load_block("# acme_zoo/plugin.py", "acme")
    assert pm.plugins["acme"].status == "loaded"
    assert "acme/tinynet" in pm.registries.models
    assert "acme/l1" in pm.registries.losses
    assert capsys.readouterr().err == ""


def test_the_guides_wrapper_example_runs_around_zoo_run_end(capsys):
    pm = load_block("# timing_zoo/plugin.py", "timing")
    assert pm.plugins["timing"].hooks == ["zoo_epoch_end", "zoo_run_end"]
    pm.call_lifecycle("zoo_epoch_end", isolate=True, run=None, epoch=1, metrics={"valid_loss": 0.25})
    pm.call_lifecycle("zoo_run_end", run=None, report={}, error=None)
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.splitlines()[0] == "[timing] epoch 1: valid loss 0.25"
    assert out.out.splitlines()[1].startswith("[timing] the other plugins took ")

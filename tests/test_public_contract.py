"""The public contract, checked: plugins and examples use only what zoo declares public.

zoo's public modules are ``zoo``, ``zoo.toolkit``, ``zoo.task`` and ``zoo.kinds`` (plus
``zoo.hookspecs``, to read); every other zoo module is internal (zoo/__init__.py and
docs/toolkit.md say so). Every module under plugins/ and examples/ is parsed, not imported,
and each import in it, at any depth, is checked:

- a zoo import names a public module, and only names that module exports (``__all__``);
- no private name (``_x``) is imported from another module, nor read off a module imported
  from another package (``import torch as t; t._x``);
- another built-in plugin is used only through the names its package exports (``__all__`` in
  its ``__init__.py``), never through its modules.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"
EXAMPLES = ROOT / "examples"
PUBLIC_ZOO_MODULES = ("zoo", "zoo.toolkit", "zoo.task", "zoo.kinds")
BUILTIN_PLUGINS = frozenset(p.parent.name for p in PLUGINS.glob("*/__init__.py"))
PACKAGES = sorted({p.parent for p in [*PLUGINS.glob("*/__init__.py"), *EXAMPLES.glob("*/*/__init__.py")]})



def exported_names(source: Path) -> frozenset:
    """The names in the literal ``__all__`` of the module at ``source`` (none without one)."""
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def public_exports(module: str) -> Optional[frozenset]:
    """What ``module`` offers other packages: the ``__all__`` of a public zoo module or of a
    built-in plugin's package; None for any other zoo or built-in plugin module (internal)."""
    if module in PUBLIC_ZOO_MODULES:
        path = ROOT / Path(*module.split("."))
        names = exported_names(path / "__init__.py" if path.is_dir() else path.with_suffix(".py"))
        if module == "zoo":  # its public submodules may be imported from it too
            names |= {m.split(".")[1] for m in PUBLIC_ZOO_MODULES if "." in m}
        return names
    if module in BUILTIN_PLUGINS:
        return exported_names(PLUGINS / module / "__init__.py")
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def is_contract_module(module: str) -> bool:
    """Whether ``module`` is zoo's or a built-in plugin's (the modules the contract governs)."""
    top = module.split(".")[0]
    return top == "zoo" or top in BUILTIN_PLUGINS


def violations(source: str, where: str, package: str) -> list:
    """Each breach of the contract in the module text ``source`` of ``package``, as ``where:line: what``."""
    tree = ast.parse(source)
    found = []
    foreign_modules = {}  # local name -> the other package's module it is bound to by ``import``

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{node.lineno}: {what}")

    def check_module(node: ast.AST, module: str) -> bool:
        """Report ``module`` if it is internal to zoo or to another plugin; True when it is not."""
        top = module.split(".")[0]
        if top == package:
            return True
        if any(is_private(part) for part in module.split(".")):
            report(node, f"imports {module}, a private module of {top}")
            return False
        if is_contract_module(module) and public_exports(module) is None:
            owner = "zoo" if top == "zoo" else f"plugin {top}"
            report(node, f"imports {module}, internal to {owner} (public: {', '.join(PUBLIC_ZOO_MODULES)}"
                         f"{'' if top == 'zoo' else f', and {top} itself'})")
            return False
        return True

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if check_module(node, alias.name):
                    local = alias.asname or alias.name.split(".")[0]
                    bound = alias.name if alias.asname else alias.name.split(".")[0]
                    if bound.split(".")[0] != package:
                        foreign_modules[local] = bound
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not check_module(node, node.module):
                continue
            exports = public_exports(node.module) if node.module.split(".")[0] != package else None
            for alias in node.names:
                if is_private(alias.name):
                    report(node, f"imports the private name {alias.name} from {node.module}")
                elif exports is not None and alias.name not in exports:
                    report(node, f"imports {alias.name} from {node.module}, which does not export it "
                                 f"(its __all__: {', '.join(sorted(exports)) or 'empty'})")
        elif isinstance(node, ast.ImportFrom):  # relative: ``from .x import _y`` is another module's too
            for alias in node.names:
                if is_private(alias.name):
                    report(node, f"imports the private name {alias.name} from another module")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = foreign_modules.get(node.value.id)
            if module is None:
                continue
            if is_private(node.attr):
                report(node, f"reads {node.value.id}.{node.attr}, private to {module}")
            elif is_contract_module(module) and node.attr not in public_exports(module):
                report(node, f"reads {node.value.id}.{node.attr}, which {module} does not export")
    return found


def package_violations(package: Path) -> list:
    return [v for path in sorted(package.rglob("*.py"))
            for v in violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), package.name)]


@pytest.mark.parametrize("package", [pytest.param(p, id=p.name) for p in PACKAGES])
def test_package_uses_only_the_public_contract(package):
    problems = package_violations(package)
    assert not problems, f"{package.name} uses what zoo does not make public:\n" + "\n".join(problems)


def test_every_built_in_plugin_and_the_example_are_checked():
    assert {p.name for p in PACKAGES} >= BUILTIN_PLUGINS | {"acme_zoo"}
    assert len(BUILTIN_PLUGINS) >= 8


@pytest.mark.parametrize("source, breach", [
    ("from zoo.weights import load_state_dict", "imports zoo.weights, internal to zoo"),
    ("from zoo import weights", "imports weights from zoo, which does not export it"),
    ("import zoo.data", "imports zoo.data, internal to zoo"),
    ("import zoo\nzoo.params.freeze(m, True)", "reads zoo.params, which zoo does not export"),
    ("def f():\n    from zoo.run import rng_state", "imports zoo.run, internal to zoo"),
    ("from zoo.toolkit import _private", "imports the private name _private from zoo.toolkit"),
    ("from zoo.toolkit import no_such_name", "imports no_such_name from zoo.toolkit, which does not export it"),
    ("from numpy import _NoValue", "imports the private name _NoValue from numpy"),
    ("import torch\ntorch._C", "reads torch._C, private to torch"),
    ("from torch._dynamo import config", "imports torch._dynamo, a private module of torch"),
    ("from zoo_torchvision.pretrained import read_pretrained",
     "imports zoo_torchvision.pretrained, internal to plugin zoo_torchvision"),
    ("from zoo_torchvision import head_prefixes",
     "imports head_prefixes from zoo_torchvision, which does not export it"),
    ("from zoo_mine.helpers import _helper", "imports the private name _helper from zoo_mine.helpers"),
    ("from .helpers import _helper", "imports the private name _helper from another module"),
])
def test_each_breach_is_reported(source, breach):
    found = violations(source, "m.py", "zoo_mine")
    assert len(found) == 1 and breach in found[0], found


@pytest.mark.parametrize("source", [
    "from zoo import hookimpl, Splits, UserError",
    "from zoo.toolkit import freeze, TensorImageDataset",
    "from zoo.task import Task, Checkpoints",
    "from zoo.kinds import KINDS",
    "from zoo import toolkit\ntoolkit.freeze",
    "import zoo\nzoo.hookimpl",
    "from zoo_torchvision import read_pretrained",
    "from zoo_mine.helpers import helper",
    "import torch\ntorch.nn.Linear",
])
def test_public_use_is_not_reported(source):
    assert violations(source, "m.py", "zoo_mine") == []


def test_every_toolkit_name_is_documented():
    import zoo.toolkit

    guide = (ROOT / "docs" / "toolkit.md").read_text(encoding="utf-8")
    undocumented = [name for name in zoo.toolkit.__all__
                    if not inspect.getdoc(getattr(zoo.toolkit, name)) or f"``{name}``" not in zoo.toolkit.__doc__
                    or not re.search(rf"^- .*`{name}[`(]", guide, re.MULTILINE)]
    assert not undocumented, ("toolkit names without a docstring, or a line in zoo/toolkit.py "
                              f"or docs/toolkit.md: {undocumented}")


def test_the_public_modules_are_declared_where_plugin_authors_read():
    import zoo

    guide = (ROOT / "docs" / "toolkit.md").read_text(encoding="utf-8")
    for module in PUBLIC_ZOO_MODULES + ("zoo.hookspecs",):
        assert f"``{module}``" in zoo.__doc__, module
        assert f"`{module}`" in guide, module
    assert "internal" in zoo.__doc__ and "internal" in guide


def test_plugins_written_before_the_toolkit_still_import_zoo_data_with_a_warning():
    code = ("import warnings, zoo.toolkit\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    from zoo.data import TensorImageDataset, split_indices\n"
            "assert TensorImageDataset is zoo.toolkit.TensorImageDataset\n"
            "assert split_indices is zoo.toolkit.split_indices\n"
            "[warning] = [w for w in caught if issubclass(w.category, DeprecationWarning)]\n"
            "assert 'zoo.toolkit' in str(warning.message), warning\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

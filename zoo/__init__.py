"""zoo: a plugin-based model zoo for PyTorch.

The public surface for plugin authors, here:

- ``hookimpl``: mark hook implementations (``@hookimpl def zoo_register_models(registry): ...``).
- ``Splits``: what a dataset factory returns.
- ``UserError``: raise it for a mistake the user can fix; zoo prints it as one line.

The public modules, which a plugin may import and which stay stable:

- ``zoo``: the names above (and ``hookspec``, the marker of zoo's own hook specifications);
- ``zoo.toolkit``: the helpers a plugin may build on (image datasets, weights, parameters,
  checkpoints, torchrun), described in docs/toolkit.md;
- ``zoo.task``: the task protocol, what a task factory's object declares;
- ``zoo.kinds``: the kinds of component (recipe section, registry, registration hook);
- ``zoo.hookspecs``: the hook specifications, to read (a plugin implements them with
  ``hookimpl`` and never needs to import this module).

Every other module under ``zoo`` is internal and may change without notice; the built-in
plugins under ``plugins/`` import nothing else (tests/test_public_contract.py checks it).

Importing ``zoo`` is cheap on purpose (no torch, no plugin): the command line lists the
catalog from a cache without importing any of them.
"""

from zoo._version import __version__
from zoo.errors import UserError
from zoo.markers import hookimpl, hookspec
from zoo.splits import Splits

__all__ = ["__version__", "hookimpl", "hookspec", "Splits", "UserError"]

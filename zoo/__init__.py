"""zoo: a plugin-based model zoo for PyTorch.

The public surface for plugin authors:

- ``hookimpl``: mark hook implementations (``@hookimpl def zoo_register_models(registry): ...``).
- ``Splits``: what a dataset factory returns.
- ``UserError``: raise it for a mistake the user can fix; zoo prints it as one line.

Importing ``zoo`` is cheap on purpose (no torch, no plugin): the command line lists the
catalog from a cache without importing any of them.
"""

from zoo._version import __version__
from zoo.errors import UserError
from zoo.markers import hookimpl, hookspec
from zoo.splits import Splits

__all__ = ["__version__", "hookimpl", "hookspec", "Splits", "UserError"]

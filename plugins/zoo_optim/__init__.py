"""zoo's built-in losses, optimizers and learning-rate schedulers (plugin ``zoo_optim``).

The ``optimizer.params`` selector lives in the core: ``zoo.toolkit.select_parameters``.
Importing this package is cheap; torch is imported by the factory modules only.
"""

"""zoo's built-in architectures (plugin ``zoo_models``): the seeds' MLP and CNN, and the
seeds' transfer-learning DenseNet-121.

``zoo_models.summary.count_parameters(model)`` counts total and trainable parameters.
Importing this package is cheap; torch is imported by the factory modules only.
"""

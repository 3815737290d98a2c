"""zoo_datasets: zoo's built-in image datasets (registry ``datasets``).

MNIST, Fashion-MNIST, CIFAR-10/100 and Oxford-IIIT Pet through torchvision's own readers,
any ImageFolder tree, and scikit-learn's embedded digits. Every factory decodes its images
once into a ``zoo.toolkit.TensorImageDataset`` (or, for image trees too big for memory, a lazy
dataset decoding per item) and shares the recipe keys ``augment``, ``normalize``,
``image_size``, ``channels`` and ``seed`` (parsed in ``zoo_datasets.transforms``).

Importing this package is cheap: the factories live in modules loaded on first use.
"""

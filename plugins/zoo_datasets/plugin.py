"""Hook implementations of zoo_datasets: registers the built-in datasets.

Factories are registered by ``"module:attr"`` so that listing them imports neither torch nor
torchvision.
"""

from zoo import hookimpl

#: name -> (factory, tags, metadata)
DATASETS = {
    "mnist": ("zoo_datasets.torchvision_sets:mnist", ("image", "classification", "grayscale"),
              {"input_size": (1, 28, 28), "num_classes": 10}),
    "fashion_mnist": ("zoo_datasets.torchvision_sets:fashion_mnist", ("image", "classification", "grayscale"),
                      {"input_size": (1, 28, 28), "num_classes": 10}),
    "cifar10": ("zoo_datasets.torchvision_sets:cifar10", ("image", "classification", "rgb"),
                {"input_size": (3, 32, 32), "num_classes": 10}),
    "cifar100": ("zoo_datasets.torchvision_sets:cifar100", ("image", "classification", "rgb"),
                 {"input_size": (3, 32, 32), "num_classes": 100}),
    "imagefolder": ("zoo_datasets.folder:imagefolder", ("image", "classification", "files"),
                    {"input_size": (3, 224, 224)}),
    "oxford_pets": ("zoo_datasets.pets:oxford_pets", ("image", "classification", "rgb"),
                    {"input_size": (3, 224, 224), "num_classes": 2}),
    "digits": ("zoo_datasets.digits:digits", ("image", "classification", "grayscale", "offline"),
               {"input_size": (1, 8, 8), "num_classes": 10}),
}

SUMMARIES = {
    "mnist": "MNIST handwritten digits (28×28 gray, 10 classes) via torchvision",
    "fashion_mnist": "Fashion-MNIST clothing (28×28 gray, 10 classes) via torchvision",
    "cifar10": "CIFAR-10 (32×32 colour, 10 classes) via torchvision",
    "cifar100": "CIFAR-100 (32×32 colour, 100 classes) via torchvision",
    "imagefolder": "Your images, one folder per class (train/test folders or a seeded split)",
    "oxford_pets": "Oxford-IIIT Pet: cat vs dog, or 37 breeds, via torchvision",
    "digits": "scikit-learn's 1,797 8×8 digits, embedded (no download)",
}


@hookimpl
def zoo_register_datasets(registry):
    """Register every built-in dataset in ``registry``."""
    for name, (factory, tags, metadata) in DATASETS.items():
        registry.register(name, factory, summary=SUMMARIES[name], tags=tags, **metadata)

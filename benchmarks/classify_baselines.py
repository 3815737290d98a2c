"""The three MNIST-MLP training epochs that ``bench_classify.py`` puts side by side.

Each ``*_epoch_runner`` does its setup once (reading the files, building the model and
optimizer) and returns ``epoch(number)``, which trains one epoch and validates once, the part
that is timed:

- ``zoo_epoch_runner``: zoo's own code path. ``zoo.run.prepare`` checks the recipe and creates
  the task as ``zoo run`` does; ``ClassificationTask.setup`` builds the data, model, loss,
  optimizer and batches as its ``run`` does (the split stratified 80/20 by
  ``task.valid_fraction``, ``TensorImageDataset`` batches of ``task.batch_size``, evaluation
  batches of 4x that). ``epoch(n)`` is ``train_epoch(n)`` then ``validate()`` -- what ``run``
  times as an epoch's ``seconds``.
- ``seeds_epoch_runner``: the seeds' notebook as written ("Loading Data With
  Train-Validation-Test Split", "Training Model With Validation Loss and Stopping"):
  ``torchvision.datasets.MNIST`` with ``transforms.ToTensor()``, a numpy-shuffled 80/20 split
  into two ``SubsetRandomSampler``, ``DataLoader(batch_size=20, num_workers=0)`` for both, the
  hand-written ``Net``, train, then validate (``model.eval()``, batches of 20, no
  ``torch.no_grad`` -- as the notebook has it).
- ``handwritten_epoch_runner``: the least a person could write over data already in memory:
  the same files decoded once into a float tensor (``/255``, as ``ToTensor``), the same
  80/20 split, ``randperm(...).split(20)`` index batches for training, then validation in
  slices of 4x the batch size under ``torch.no_grad`` (as zoo's evaluation), same ``Net``,
  ``CrossEntropyLoss`` and ``SGD``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EpochRunner = Callable[[int], float]


class Net(nn.Module):
    """The seeds' MNIST MLP, written by hand: 784 -> 512 -> 512 -> 10, ReLU, dropout 0.2."""

    def __init__(self):
        super().__init__()
        hidden_1 = 512
        hidden_2 = 512
        self.fc1 = nn.Linear(28 * 28, hidden_1)
        self.fc2 = nn.Linear(hidden_1, hidden_2)
        self.fc3 = nn.Linear(hidden_2, 10)
        self.dropout = nn.Dropout(0.2)

    def forward(self, x):
        x = x.view(-1, 28 * 28)
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        x = F.relu(self.fc2(x))
        x = self.dropout(x)
        x = self.fc3(x)
        return x


def zoo_epoch_runner(recipe_path: Path, overrides: list) -> EpochRunner:
    """Set up zoo's classification task for ``recipe_path`` + ``overrides`` as ``zoo run`` does
    (``zoo.run.prepare``, then ``ClassificationTask.setup``); return ``epoch(n)``: the task's
    ``train_epoch(n)`` and ``validate()``, giving the training loss.
    """
    from zoo.recipe import load_recipe
    from zoo.run import prepare, seed_everything

    run, task = prepare(load_recipe(recipe_path, overrides=overrides), quiet=True)
    seed_everything(run.seed)
    training = task.setup(run)

    def epoch(number: int) -> float:
        train_loss = training.train_epoch(number)
        training.validate()
        return train_loss

    return epoch


def seeds_split(n: int, valid_size: float = 0.2, seed: int = 0) -> tuple:
    """The seeds' split: numpy-shuffled indices, the first ``valid_size`` share for validation."""
    indices = list(range(n))
    np.random.RandomState(seed).shuffle(indices)
    split = int(np.floor(valid_size * n))
    return indices[split:], indices[:split]


def seeds_epoch_runner(root: Path, *, batch_size: int = 20, lr: float = 0.01, seed: int = 0) -> EpochRunner:
    """The seeds' DataLoader loop over ``root/MNIST/raw``; ``epoch(n)`` gives the training loss."""
    from torch.utils.data import DataLoader, SubsetRandomSampler
    from torchvision import datasets, transforms

    torch.manual_seed(seed)
    transform = transforms.ToTensor()
    train_data = datasets.MNIST(root=str(root), train=True, download=False, transform=transform)
    train_idx, valid_idx = seeds_split(len(train_data), seed=seed)
    train_loader = DataLoader(train_data, batch_size=batch_size, sampler=SubsetRandomSampler(train_idx),
                              num_workers=0)
    valid_loader = DataLoader(train_data, batch_size=batch_size, sampler=SubsetRandomSampler(valid_idx),
                              num_workers=0)
    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def epoch(number: int) -> float:
        train_loss = 0.0
        valid_loss = 0.0
        model.train()
        for data, target in train_loader:
            optimizer.zero_grad()
            output = model(data)
            loss = criterion(output, target)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * data.size(0)
        model.eval()
        for data, target in valid_loader:
            output = model(data)
            loss = criterion(output, target)
            valid_loss += loss.item() * data.size(0)
        return train_loss / len(train_idx)

    return epoch


def handwritten_epoch_runner(root: Path, *, batch_size: int = 20, lr: float = 0.01, seed: int = 0) -> EpochRunner:
    """A minimal loop over the files decoded once into float tensors; ``epoch(n)`` gives the training loss."""
    from torchvision import datasets

    torch.manual_seed(seed)
    decoded = datasets.MNIST(root=str(root), train=True, download=False)
    images = decoded.data.unsqueeze(1).float().div_(255.0)
    labels = decoded.targets.long()
    train_idx, valid_idx = (torch.tensor(i) for i in seeds_split(len(labels), seed=seed))
    train_x, train_y = images[train_idx], labels[train_idx]
    valid_x, valid_y = images[valid_idx], labels[valid_idx]
    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    eval_batch = 4 * batch_size

    def epoch(number: int) -> float:
        train_loss = 0.0
        model.train()
        for idx in torch.randperm(len(train_y), generator=generator).split(batch_size):
            x, y = train_x[idx], train_y[idx]
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * x.size(0)
        model.eval()
        valid_loss = 0.0
        with torch.no_grad():
            for start in range(0, len(valid_y), eval_batch):
                x, y = valid_x[start:start + eval_batch], valid_y[start:start + eval_batch]
                valid_loss += criterion(model(x), y).item() * x.size(0)
        return train_loss / len(train_y)

    return epoch

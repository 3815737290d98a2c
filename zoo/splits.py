"""``Splits``: the value every dataset factory returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence


@dataclass
class Splits:
    """The parts of a dataset.

    ``train`` and ``test`` are map-style torch Datasets whose items are
    ``(float tensor C×H×W, int label)``. When ``valid`` is None the task carves a validation
    part out of ``train`` (``valid_fraction``). ``classes`` names the labels in order
    (``classes[i]`` is label ``i``); None means the labels are their own names.
    ``info`` is free-form metadata a dataset wants to report (source files, image size...).
    """

    train: Any
    test: Any
    valid: Optional[Any] = None
    classes: Optional[Sequence[str]] = None
    info: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> Optional[int]:
        """How many classes ``classes`` names; None when it is None."""
        return len(self.classes) if self.classes is not None else None

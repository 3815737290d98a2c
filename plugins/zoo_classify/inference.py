"""A finished classification run, used again: test its best checkpoint, or hand out its model.

Both take a ``zoo.task.Run`` whose ``directory`` is the run folder and the run's
``ClassificationOptions``. ``evaluate_run`` rebuilds the recipe's data and model as the run did
(so overrides such as ``data.root=other_folder`` take effect), loads ``checkpoints/best.pt``
(``weights_only``) and refuses a checkpoint trained on other classes than the data has.
``best_model`` builds the model from the card in ``best.pt``, without the data (``zoo predict``,
``zoo export``); only a card without preprocessing needs the data, to predict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo import UserError
from zoo.task import BestModel, ImagePreparation
from zoo.toolkit import card_model, checkpoint_card, checkpoint_mismatch, describe_classes
from zoo_classify.batches import Batches
from zoo_classify.card import classification_card, evaluation_split, example_inputs, unwrap_subsets
from zoo_classify.data import ClassificationData, load_data
from zoo_classify.evaluation import evaluate, log_test_table, test_report
from zoo_classify.model import build_model
from zoo_classify.options import ClassificationOptions
from zoo_classify.precision import Precision


def evaluate_run(run: Any, options: ClassificationOptions) -> dict:
    """Test the run's best checkpoint on the recipe's test split and log the per-class table.

    Returns the report as report.json's ``test`` part (loss, accuracy, per_class,
    confusion_matrix) plus ``checkpoint`` (its path) and ``epoch`` (the epoch it was saved at).
    Raises ``zoo.UserError`` when the data has no test samples or the checkpoint doesn't fit.
    """
    data = load_data(run, options.valid_fraction)
    data.check_labels(run.recipe.where(("data",)))
    if not data.has_test:
        raise UserError(f"{run.recipe.where(('data',))}: data {_data_name(run)!r} has no test samples to evaluate on")
    model, state = load_best(run, data)
    criterion = run.build("loss")
    precision = Precision(options.amp, run.device)
    batches = Batches(data.test, batch_size=options.evaluation_batch_size, device=run.device, train=False,
                      num_workers=options.num_workers, data_on_device=options.data_on_device)
    checkpoint = run.checkpoint_dir / "best.pt"
    run.log(f"{run.name}: testing {checkpoint} (epoch {state.get('epoch', '?')}) on {len(data.test)} test samples "
            f"of data {_data_name(run)!r}")
    loss, accuracy, confusion = evaluate(model, criterion, batches, data.num_classes, precision)
    report = test_report(loss, accuracy, confusion, data.classes)
    log_test_table(run, report)
    return dict(report, checkpoint=str(checkpoint), epoch=state.get("epoch"))


def best_model(run: Any, options: ClassificationOptions) -> BestModel:
    """The run's best model for ``zoo predict`` and ``zoo export`` (a ``zoo.task.BestModel``).

    The model is built from the card recorded in ``best.pt`` and the test images it keeps, so
    the run's data is not needed. A checkpoint saved before zoo wrote cards gets one made from
    the run's data, as the recipe says where it is; without the data, a ``zoo.UserError`` says
    what the checkpoint lacks. A card that does not match the weights, or names other classes
    than the checkpoint was trained on, is refused.
    """
    path = run.checkpoint_dir / "best.pt"
    state = run.load_checkpoint("best.pt")
    card = checkpoint_card(path)
    examples = state.get("examples")
    if card is None or not isinstance(examples, torch.Tensor):
        data = _data_of_old_checkpoint(run, options, path, "a model card" if card is None else "example test images")
        if card is None:
            _check_classes(run, data, state, path)
            card = classification_card(run, data, {"epoch": state.get("epoch")})
        if not isinstance(examples, torch.Tensor):
            examples = example_inputs(data)
    saved_classes = state.get("classes")
    if saved_classes is not None and [str(c) for c in saved_classes] != list(card["classes"]):
        raise UserError(f"{path}: its model card names {describe_classes(card['classes'])} but the checkpoint was "
                        f"trained on {describe_classes(saved_classes)}")
    module = card_model(run.registries, card, state.get("model"), str(path))
    preparation = None
    if card["preprocessing"] is None:
        preparation = lambda: _test_split_preparation(run, options, path)  # noqa: E731
    return BestModel(module=module, card=card, examples=examples, preparation=preparation)


def _test_split_preparation(run: Any, options: ClassificationOptions, path: Path) -> ImagePreparation:
    """How the run's test split prepares images (its dataset's own transform), for a card
    without preprocessing; a ``zoo.UserError`` saying so when the data cannot be loaded or its
    dataset does not say how it stores images."""
    lacking = (f"{path}: its model card has no preprocessing (the run's dataset prepares its images its own "
               f"way), so image files cannot be prepared for it without the data")
    try:
        data = load_data(run, options.valid_fraction)
    except UserError as exc:
        raise UserError(f"{lacking}: {exc}") from None
    dataset = unwrap_subsets(evaluation_split(data))
    stored, prepare = getattr(dataset, "stored_shape", None), getattr(dataset, "prepare", None)
    if stored is None or not callable(prepare) or stored[0] not in (1, 3):
        raise UserError(f"{lacking}: data {_data_name(run)!r} gives {type(dataset).__name__} datasets, which do not "
                        f"say how they store 1- or 3-channel images (stored_shape, prepare)")

    def prepared(images: Any) -> Any:
        with torch.no_grad():
            batch = prepare(torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2))
        return batch.detach().to("cpu", torch.float32).numpy()

    return ImagePreparation(mode="L" if stored[0] == 1 else "RGB", size=(int(stored[1]), int(stored[2])),
                            prepare=prepared)


def _data_of_old_checkpoint(run: Any, options: ClassificationOptions, path: Path, lacking: str) -> ClassificationData:
    """The run's data, for a checkpoint that lacks ``lacking``; a ``zoo.UserError`` saying so
    when the data cannot be loaded."""
    try:
        return load_data(run, options.valid_fraction)
    except UserError as exc:
        raise UserError(f"{path} was saved before zoo recorded {lacking} in checkpoints, so the classes, input size "
                        f"and preprocessing must come from the run's data, which cannot be loaded: {exc} (put the data "
                        f"back where recipe.yaml says, or retrain with this zoo)") from None


def load_best(run: Any, data: ClassificationData) -> tuple:
    """``(model in eval mode on run.device, checkpoint dict)`` from the run's ``checkpoints/best.pt``.

    Refuses (``zoo.UserError``) a checkpoint whose classes differ from ``data.classes``, or
    whose weights do not fit the model the recipe builds now.
    """
    path = run.checkpoint_dir / "best.pt"
    state = run.load_checkpoint("best.pt")
    _check_classes(run, data, state, path)
    if not isinstance(state.get("model"), dict):
        raise UserError(f"{path}: no model weights in it (expected a 'model' state dict)")
    model = build_model(run, data)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        raise UserError(f"{path}: its weights do not fit model {run.section('model').get('name')!r} as "
                        f"{run.recipe.where(('model',))} builds it now ({checkpoint_mismatch(model.state_dict(), state['model'])})"
                        ) from None
    return model.to(run.device).eval(), state


def _check_classes(run: Any, data: ClassificationData, state: dict, path: Path) -> None:
    """Refuse (``zoo.UserError``) a checkpoint trained on other classes than ``data`` has."""
    saved_classes = state.get("classes")
    if saved_classes is not None and list(saved_classes) != list(data.classes):
        raise UserError(f"{path} was trained on {describe_classes(saved_classes)} but data {_data_name(run)!r} "
                        f"({run.recipe.where(('data',))}) has {describe_classes(data.classes)}")


def _data_name(run: Any) -> str:
    return str(run.section("data").get("name"))


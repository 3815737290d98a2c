"""The classification task as the task protocol sees it: its options model is its schema, it
declares its checkpoints, and it writes the headline of its report."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from zoo.task import traits_of


def test_the_options_model_is_the_schema_and_what_the_task_reads(tmp_path):
    from pydantic import ValidationError

    from zoo.recipe import load_recipe
    from zoo.run import prepare
    from zoo_classify.options import ClassificationOptions
    from zoo_classify.task import classification

    assert list(inspect.signature(classification).parameters) == list(ClassificationOptions.model_fields)
    for name, field in ClassificationOptions.model_fields.items():
        assert f"{name}: {field.description.split()[0]}" in " ".join(classification.__doc__.split())
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent("""\
        task: {name: classification, epochs: '3', feature_cache: 'off', eval_batch_size: null}
        data: {name: digits}
        model: {name: mlp}
        loss: {name: cross_entropy}
        optimizer: {name: sgd, lr: 0.1}
    """))
    _, task = prepare(load_recipe(recipe), quiet=True)
    assert isinstance(task.options, ClassificationOptions)
    assert (task.options.epochs, task.options.feature_cache, task.options.batch_size) == (3, "off", 64)
    assert task.options.evaluation_batch_size == 256
    with pytest.raises(ValidationError):  # a run reads its options, never changes them
        task.options.epochs = 5


def test_the_task_declares_its_checkpoints_and_writes_its_headline():
    from zoo_classify.task import classification

    traits = traits_of(classification(), "classification")
    assert traits.checkpoints.resume == "checkpoints/last.pt"
    assert traits.checkpoints.best == "checkpoints/best.pt"
    assert (traits.checkpoints.progress, traits.checkpoints.total) == ("epoch", "epochs")
    assert traits.sections == ("data", "model", "loss", "optimizer")
    assert traits.optional_sections == ("scheduler",)
    report = {"test": {"accuracy": 0.98889, "loss": 0.03121}, "best": {"epoch": 7, "valid_loss": 0.04}}
    assert traits.headline(report) == "test accuracy 98.89%, test loss 0.0312, best epoch 7"
    assert traits.headline({"best": {"epoch": 2}, "epochs_run": 2}) == "best epoch 2"
    assert traits.headline({"best": {"epoch": None}}) == ""

"""Checking a whole recipe before anything is built: each section once, against its factory.

``check_recipe(recipe, registries)`` checks the top level, the task's own section, creates the
task (its factory gets the checked ``task:`` keys) and reads its declarations
(``zoo.task.traits_of``): the sections it needs and uses, and the keys it fills from the data.
Each of those sections is then checked against the factory it names (``zoo.validation``): its
keys converted once, kept in the ``CheckedSection`` that ``Run.build`` completes with the
filled values. A section the task does not use is refused, as is one it needs and lacks.
Every mistake is reported at once (``zoo.validation.Problems``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from zoo.errors import UserError
from zoo.kinds import SECTIONS, TOP_LEVEL_KEYS, by_section
from zoo.registry import suggest
from zoo.signatures import leading_names
from zoo.task import TaskTraits, traits_of
from zoo.validation import Problems, check_section, lookup_entry, validate_recipe_shape, validate_section


@dataclass(frozen=True)
class CheckedRecipe:
    """A recipe checked against the registries: the ``task`` object its factory made, its
    ``traits``, its ``options`` (the checked ``task:`` keys) and its component ``sections``
    (``zoo.validation.CheckedSection`` by section name, for the sections present)."""

    task: Any
    traits: TaskTraits
    options: dict
    sections: dict


def check_recipe(recipe: Any, registries: Any, only: Optional[Sequence[str]] = None) -> CheckedRecipe:
    """Check ``recipe`` (a ``zoo.recipe.Recipe``) against ``registries`` (``zoo.registry.Registries``).

    ``only``: the sections to check besides the task (None: all); the others are neither checked
    nor required (``zoo predict`` and ``zoo export`` from a model card need no data plugin).

    Builds nothing but the task object. Raises ``zoo.UserError`` naming the recipe line at fault,
    or a ``zoo.validation.RecipeProblems`` listing every mistake when there are several: each
    section is checked even when another is wrong (without a task, every section present is
    checked against the factory it names).
    """
    problems = Problems()
    with problems.check():
        validate_recipe_shape(recipe, TOP_LEVEL_KEYS)
    task, traits, options = None, None, {}
    with problems.check():
        task, traits, options = _check_task(recipe, registries)
    used = traits.sections + traits.optional_sections if traits else tuple(s for s in SECTIONS if s != "task")
    if only is not None:
        used = tuple(s for s in used if s in only)
    # a needed section missing because its key is misspelled (modle:) is one mistake, said once
    misspelled = [k for k in recipe.data if k not in TOP_LEVEL_KEYS]
    sections = {}
    for section in used:
        if not recipe.section(section):
            if traits and section in traits.sections and not suggest(section, misspelled, 1):
                problems.add(UserError(f"{recipe.where(())}: task {traits.name!r} needs a {section}: section"))
            continue
        kind = by_section(section)
        with problems.check():
            entry = lookup_entry(recipe, section, registries[kind.registry])
            checked = check_section(recipe, section, entry, supplied=leading_names(entry, len(kind.leading)),
                                    ignore=kind.runner_keys)
            # a required key nobody fills: now (what the task fills, or any task could, without one)
            checked.arguments(fillable=traits.section_fills(section) if traits else kind.filled)
            sections[section] = checked
    for section in SECTIONS:
        if traits and section != "task" and recipe.section(section) and section not in used and only is None:
            problems.add(UserError(f"{recipe.where((section,))}: task {traits.name!r} does not use a "
                                   f"{section}: section (it uses: {', '.join(traits.sections)})"))
    problems.raise_any(recipe)
    return CheckedRecipe(task=task, traits=traits, options=options, sections=sections)


def _check_task(recipe: Any, registries: Any) -> tuple:
    """``(task, traits, options)``: the task the recipe's ``task:`` section makes, what it declares
    (``zoo.task.TaskTraits``) and its checked keys. Raises ``zoo.UserError`` for a recipe mistake."""
    if not recipe.section("task"):
        raise UserError(f"{recipe.where(())}: the recipe has no task: section (e.g. task: {{name: classification}})")
    task_entry = lookup_entry(recipe, "task", registries.tasks)
    options = validate_section(recipe, "task", task_entry)
    task = task_entry.create(**options)
    traits = traits_of(task, task_entry.name, task_entry.metadata)  # refuses sections zoo doesn't build
    return task, traits, options

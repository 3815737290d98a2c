"""``zoo run RECIPE [KEY=VALUE ...] [--output DIR] [--resume DIR] [--dry-run]``.

Finds and loads the recipe (with its overrides), runs it (``zoo.run.execute``) and prints the run
folder and the task's one-line headline of its report.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from zoo.errors import RunFailure, UserError


def find_recipe_file(spec: str) -> Path:
    """A recipe path as given, or a recipe found by name in ./recipes or a plugin's recipes."""
    from zoo import catalog
    from zoo.recipe_index import resolve_recipe

    path = Path(spec)
    if path.is_file():
        return path
    found = resolve_recipe(spec, catalog.load(quiet=True).get("recipe_dirs", []))
    if found is None:
        raise UserError(f"recipe not found: {spec} (a YAML file, or a name from 'zoo list recipes')")
    return found


def run_command(recipe_spec: Optional[str], overrides: Sequence[str], *, output: Optional[str] = None,
                resume: Optional[str] = None, dry_run: bool = False) -> int:
    """``zoo run``: ``recipe_spec`` (a file or a recipe's name) with ``overrides`` (``KEY=VALUE``),
    into the folder ``output``, or continuing the run folder ``resume``; ``dry_run`` checks it
    and prints the resolved recipe. Returns the exit status (0); raises ``zoo.UserError`` for a
    mistake, ``zoo.RunFailure`` for a run that failed."""
    from zoo.recipe import load_recipe
    from zoo.run import execute

    overrides = list(overrides)
    resume_dir = Path(resume) if resume else None
    if resume_dir is not None:
        if recipe_spec and "=" in recipe_spec:
            overrides.insert(0, recipe_spec)
        elif recipe_spec:
            raise UserError("--resume continues a run folder with its own recipe.yaml; give no RECIPE "
                            "(overrides such as task.epochs=20 are allowed)")
        if output:
            raise UserError("--resume and --output can't be used together: a resumed run stays in its folder")
        recipe_path = resume_dir / "recipe.yaml"
        if not recipe_path.is_file():
            raise UserError(f"--resume {resume_dir}: not a run folder (no recipe.yaml there)")
    else:
        if not recipe_spec:
            raise UserError("zoo run needs a RECIPE (a YAML file or a name from 'zoo list recipes')")
        recipe_path = find_recipe_file(recipe_spec)
    recipe = load_recipe(recipe_path, overrides)
    if dry_run:
        execute(recipe, dry_run=True)
        sys.stdout.write(recipe.to_yaml())
        print(f"zoo: {recipe_path}: the recipe is valid (dry run: nothing trained)", file=sys.stderr)
        return 0
    try:
        outcome = execute(recipe, output=Path(output) if output else None, resume=resume_dir)
    except (UserError, RunFailure, KeyboardInterrupt):
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())[:500]  # one line, however long torch's message is
        raise RunFailure(f"the run failed: {type(exc).__name__}: {detail} (run with --debug for the traceback)") from exc
    from zoo.distributed import is_main_process

    if not is_main_process():  # under torchrun the other processes have the same figures: print once
        return 0
    print(f"run folder: {outcome.directory}")
    if outcome.headline:
        print(outcome.headline)
    return 0

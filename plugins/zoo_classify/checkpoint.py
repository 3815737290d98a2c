"""What a classification run's ``checkpoints/last.pt`` holds, and how ``--resume`` reads it back.

``last.pt`` is everything an epoch leaves that the next one needs: the model's and the
optimizer's states, the scheduler's and the gradient scaler's (or None), every random
generator's state, and the ``TrainingState`` keys (``epoch``, ``best_valid_loss``...) at its
top level. Restored, the run continues bit for bit as if it had gone straight through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo import UserError
from zoo.toolkit import RunFailure, checkpoint_mismatch, logged_epoch, rng_state, set_rng_state
from zoo_classify.health import non_finite_weights
from zoo_classify.state import TrainingState

if TYPE_CHECKING:
    from zoo_classify.trainer import Trainer


def last_checkpoint(trainer: "Trainer") -> dict:
    """The contents of ``last.pt`` for the trainer as it is now (after an epoch)."""
    scheduler = trainer.scheduler
    return {"model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": trainer.precision.state_dict(), "rng": rng_state(), **trainer.state.as_dict()}


def resume(trainer: "Trainer", saved: dict) -> None:
    """Put ``trainer`` back where ``saved`` (a ``last.pt``) left it: weights, optimizer,
    scheduler, scaler, training state and random generators. Raises ``zoo.UserError`` when the
    checkpoint does not fit the recipe as it is now or a key has the wrong type, and
    ``zoo.RunFailure`` when its weights are NaN or infinite (no good checkpoint to go on from)."""
    run = trainer.run
    path = resumed_from(run)
    restore_training(run, trainer.model, trainer.optimizer, saved)
    check_training_state(saved, path)
    bad = non_finite_weights(saved["model"])
    if bad:
        raise RunFailure(f"{path} (epoch {saved.get('epoch')}) holds NaN or infinite weights ({', '.join(bad)}): "
                         f"training cannot continue from it; run the recipe again, with a lower optimizer.lr "
                         f"or task.clip_grad_norm")
    if trainer.scheduler is not None and saved.get("scheduler") is not None:
        trainer.scheduler.load_state_dict(saved["scheduler"])
    if saved.get("scaler") is not None:
        trainer.precision.load_state_dict(saved["scaler"])
    trainer.state = TrainingState.from_checkpoint(saved)
    try:
        set_rng_state(saved["rng"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, IndexError) as exc:
        raise UserError(f"{path}: rng is not the random generators' state zoo saves "
                        f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]}); the file was altered") from None


def report_lost_rounds(run: Any, state: TrainingState) -> int:
    """Give the loggers again the validation rounds of the epoch ``last.pt`` ended (read from
    ``state.history``) when the run folder's metrics.jsonl stops before that epoch: a run killed
    after writing ``last.pt`` and before its epoch's metrics line. Returns how many rounds."""
    if run.directory is None or state.epoch == 0:
        return 0
    logged = logged_epoch(run.directory)
    if logged is None or (isinstance(logged, int) and logged >= state.epoch):
        return 0  # None: no metrics file, no JSONL logger in this installation
    rows = [row for row in state.history if row.get("epoch") == state.epoch]
    for row in rows:
        run.epoch_end(state.epoch, {k: v for k, v in row.items() if k not in ("epoch", "progress")})
    return len(rows)


def resumed_from(run: Any) -> str:
    """``--resume RUN_DIR: checkpoints/last.pt``: the checkpoint a resume reads, as errors name it."""
    return f"--resume {run.directory if run.directory is not None else run.shared_directory}: checkpoints/last.pt"


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# the TrainingState keys of last.pt, what each must be, and how that is said
STATE_TYPES = {
    "epoch": (_count, "an int >= 0"),
    "best_valid_loss": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "best_epoch": (lambda v: v is None or _count(v), "an int >= 0 or None"),
    "best_step": (lambda v: v is None or _count(v), "an int >= 0 or None"),
    "history": (lambda v: isinstance(v, list) and all(isinstance(row, dict) for row in v), "a list of dicts"),
    "bad_epochs": (_count, "an int >= 0"),
    "memory_format": (lambda v: v in (None, "channels_last", "contiguous"), "channels_last, contiguous or None"),
}


def check_training_state(saved: dict, path: str) -> None:
    """Raise ``zoo.UserError`` naming ``path`` (the checkpoint, as errors name it) and the key
    when a ``TrainingState`` key of ``saved`` has the wrong type, or ``rng`` is missing or no
    dict. A key that is absent (a checkpoint older than it) keeps its default."""
    for key, (fits, expected) in STATE_TYPES.items():
        if key in saved and not fits(saved[key]):
            raise UserError(f"{path}: {key} must be {expected}, found {saved[key]!r:.60} "
                            f"({type(saved[key]).__name__}); the file was altered")
    if not isinstance(saved.get("rng"), dict):
        found = type(saved["rng"]).__name__ if "rng" in saved else "nothing"
        raise UserError(f"{path}: rng must be the random generators' state (a dict), found {found}")


def restore_training(run: Any, model: Any, optimizer: Any, saved: dict) -> None:
    """Load a resumed run's ``last.pt`` model and optimizer states; a checkpoint that does not fit the
    recipe as it is now (another model, another optimizer) is a ``zoo.UserError`` naming both.

    An optimizer setting given on this resume's command line (``optimizer.lr=0.001``) replaces
    the checkpoint's, and the change is logged.
    """
    path = resumed_from(run)
    if not isinstance(saved.get("model"), dict) or not isinstance(saved.get("optimizer"), dict):
        raise UserError(f"{path} is not a classification checkpoint (no model and optimizer states in it)")
    try:
        model.load_state_dict(saved["model"])
    except (RuntimeError, KeyError, ValueError):
        raise UserError(f"{path} does not fit model {run.section('model').get('name')!r} as "
                        f"{run.recipe.where(('model',))} builds it now "
                        f"({checkpoint_mismatch(model.state_dict(), saved['model'])}); "
                        f"resume with the recipe it was saved with") from None
    from_recipe = [dict(group) for group in optimizer.param_groups]  # as this resume's recipe sets them
    try:
        optimizer.load_state_dict(saved["optimizer"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise UserError(f"{path} does not fit optimizer {run.section('optimizer').get('name')!r} as "
                        f"{run.recipe.where(('optimizer',))} builds it now: {' '.join(str(exc).split())[:300]}") from None
    # the checkpoint brings the rates the run had reached; a value set on this resume's command
    # line (optimizer.lr=0.001 after a divergence) is what the user asked for from now on
    for key in from_recipe[0]:
        if key == "params" or not run.recipe.set_on_command_line(("optimizer", key)):
            continue
        saved_value = optimizer.param_groups[0].get(key)
        for group, fresh in zip(optimizer.param_groups, from_recipe):
            group[key] = fresh[key]
        if saved_value != from_recipe[0][key]:
            run.log(f"resumed with optimizer.{key} = {from_recipe[0][key]} (the checkpoint had {saved_value})")

"""A sweep's Optuna study: its storage, sampler, pruner, and the settings every worker shares.

The study is Optuna's, in Optuna's storage: ``sqlite:///<sweep folder>/study.db`` by default,
any database URL Optuna's ``RDBStorage`` takes (``postgresql://...``, ``mysql://...``), or a
journal file (a path with no ``://``: ``JournalFileStorage``, for file systems without a
database). The sweep's settings (recipe, arguments, objective, seeds, sampler, pruner, trials,
the folder that made it) are the study's user attribute ``zoo``, so a worker that joins
(``--join``) from another process or machine runs exactly the same sweep.

Every trial the sweep will run is queued when the study is made (``Study.enqueue_trial``):
the grid's points, or ``--trials`` empty trials that the sampler fills in when a worker takes
them. A worker takes a queued trial with Optuna's own atomic pop (the state moves from WAITING
to RUNNING in the storage), so no trial is run twice however many workers there are, and
nothing beyond the budget is ever created. Optuna is imported inside the functions.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from zoo.errors import UserError

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband")
_MAXIMIZED = ("accuracy", "acc", "f1", "auc", "precision", "recall", "iou", "dice", "map", "score")


@dataclass(frozen=True)
class Settings:
    """What every worker of one sweep shares (the study's ``zoo`` user attribute)."""

    name: str
    recipe_name: str
    recipe: str
    arguments: list
    objective: str
    seeds: int
    sampler: str
    sampler_seed: int
    pruner: Optional[str]
    trials: int
    folder: str
    command: str
    created: str

    def to_json(self) -> dict:
        """The settings as a plain dict."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> "Settings":
        """Settings read back from ``to_json``'s dict."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def direction_of(objective: str) -> str:
    """``maximize`` for an accuracy-like objective (``test.accuracy``, ``valid_f1``...), else ``minimize``."""
    last = objective.rsplit(".", 1)[-1].lower()
    return "maximize" if any(last == w or last.endswith("_" + w) for w in _MAXIMIZED) else "minimize"


def default_storage(folder: Path) -> str:
    """The study's SQLite URL inside the sweep ``folder``."""
    return f"sqlite:///{(folder / 'study.db').resolve()}"


def storage_url(given: str) -> str:
    """The storage URL ``--storage given`` names: a database URL as it is, a journal file's path
    made absolute (so that sweep.json names it from any folder)."""
    return given if "://" in given else str(Path(given).resolve())


def open_storage(url: str, *, create: bool = True) -> Any:
    """Optuna's storage for ``url``: an ``RDBStorage`` for a URL with ``://``, else a journal file
    (made, with its folder, when ``create``; an existing one is needed to join or resume a
    sweep). Raises ``zoo.UserError`` naming the URL when Optuna can't open it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # zoo prints what the sweep does
    if "://" not in url and not create and not Path(url).is_file():
        raise UserError(f"--storage {url}: no such journal file (a sweep started with --storage FILE makes it)")
    try:
        if "://" in url:
            kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        from optuna.storages.journal import JournalFileBackend

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    except (ImportError, ValueError, OSError) as exc:
        raise UserError(f"--storage {url}: Optuna can't open it: {' '.join(str(exc).split())[:300]}") from None
    except Exception as exc:  # sqlalchemy's errors: a server not reachable, a bad driver name
        raise UserError(f"--storage {url}: Optuna can't open it: {type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:300]}") from None


def make_sampler(settings: Settings, offset: int = 0) -> Any:
    """The Optuna sampler ``settings`` name, seeded with its seed plus ``offset`` (each worker
    process gets its own, so parallel workers don't draw the same values)."""
    import optuna

    seed = settings.sampler_seed + offset
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "grid":  # every trial was queued with its grid point: the sampler draws nothing
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(name: Optional[str]) -> Any:
    """Optuna's pruner for ``--prune`` ``name``; ``NopPruner`` for None. The median rule starts
    once two trials have finished and from the second report on (the first epoch is noisy)."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1)
    return optuna.pruners.NopPruner()


def create(settings: Settings, storage_url: str, queued: list) -> Any:
    """Make the study named ``settings.name`` in ``storage_url`` with the sweep's settings and its
    ``queued`` trials (one dict of fixed parameters each; ``{}`` for a sampled one). Returns it."""
    import optuna

    storage = open_storage(storage_url)
    try:
        study = optuna.create_study(study_name=settings.name, storage=storage, direction=direction_of(settings.objective),
                                    sampler=make_sampler(settings), pruner=make_pruner(settings.pruner))
    except optuna.exceptions.DuplicatedStudyError:
        raise UserError(f"--storage {storage_url}: it already holds a study named {settings.name!r}; "
                        f"join it with --join {settings.name}") from None
    study.set_user_attr("zoo", settings.to_json())
    for params in queued:
        study.enqueue_trial(params)
    return study


def load(storage_url: str, name: str, offset: int = 0) -> tuple:
    """``(study, settings)``: the sweep study ``name`` in ``storage_url``, with a sampler seeded
    ``offset`` past the sweep's seed. Raises ``zoo.UserError`` when there is no such sweep study."""
    import optuna

    storage = open_storage(storage_url, create=False)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise UserError(f"no sweep study named {name} in {storage_url} "
                        f"(it holds: {', '.join(names) or 'none'})") from None
    config = study.user_attrs.get("zoo")
    if not isinstance(config, dict):
        raise UserError(f"--join {name}: the study in {storage_url} was not made by zoo sweep")
    settings = Settings.from_json(config)
    return optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(settings, offset),
                             pruner=make_pruner(settings.pruner)), settings


def take_queued(study: Any, storage_url: str) -> Any:
    """The next queued trial, taken for this process (``Study.ask`` without its fallback of making a
    new trial: a sweep runs only the trials it queued); None when the queue is empty. Optuna's
    pop moves the trial from WAITING to RUNNING and skips one another worker took; on SQLite
    (``storage_url``) its read and its write are separate transactions, so the pop is held
    under a lock file beside the database, one process at a time (``queue_lock``)."""
    import optuna
    from sqlalchemy.exc import OperationalError

    for attempt in range(20):
        try:
            with queue_lock(storage_url):
                trial_id = study._pop_waiting_trial_id()
            break
        except OperationalError:  # SQLite busy: a write of another worker took longer than the timeout
            time.sleep(0.05 + random.random() * 0.2)
    else:
        raise UserError("the study's SQLite file stayed locked; give --storage a database server or a journal file")
    return None if trial_id is None else optuna.Trial(study, trial_id)


@contextmanager
def queue_lock(storage_url: str) -> Iterator[None]:
    """Hold ``<database>.lock`` exclusively (``flock``) while the block runs, for a SQLite
    ``storage_url``; nothing for other storages (a database server locks the row it pops, a
    journal file applies the pops in order) or where ``fcntl`` is missing."""
    prefix = "sqlite:///"
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if not storage_url.startswith(prefix) or fcntl is None:
        yield
        return
    with open(storage_url[len(prefix):] + ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def reopen(study: Any, number: int) -> Any:
    """An ``optuna.Trial`` for the RUNNING trial ``number`` of ``study`` (one a dead process left):
    its parameters are those it was given."""
    import optuna

    frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
    return optuna.Trial(study, frozen._trial_id)

"""Registries: one flat name -> factory table per kind of component.

A plugin fills them from its registration hooks::

    @hookimpl
    def zoo_register_models(registry):
        registry.register("acme/tinynet", build_tinynet, summary="A tiny CNN", tags=("cnn",))

        @registry.register("acme/wide", summary="A wide MLP")
        def build_wide(num_classes: int = 10, width: int = 1024): ...

        # 1,000 names from an outside catalog, imported only when one is used:
        registry.register_namespace("acme", create_acme, lister=list_acme_names)

A factory may also be given as a ``"package.module:attribute"`` string: the module is imported
only when the entry is created or inspected, so a plugin's registration stays cheap.

Every entry carries its provenance (plugin, distribution, version), filled in by the plugin
manager while it calls each plugin's hook. One plugin registering a name twice is a bug in that
plugin and raises at once; two plugins registering one name is a conflict: both are kept, a
warning names both, and using the name is an error that names both -- never a silent override.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import importlib
import inspect
import math
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from zoo.errors import UserError
from zoo.kinds import KINDS, by_registry, lookup

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.\-/]*\Z")

Factory = Union[Callable[..., Any], str]


def name_matches(name: str, pattern: str) -> bool:
    """Glob ``pattern`` on ``name``, ignoring case; a pattern without '/' also matches inside namespaces.

    ``resnet*`` matches ``resnet18`` and ``timm/resnet18``; ``timm/*`` only timm's names;
    ``ResNet5*`` matches ``resnet50``.
    """
    name, pattern = name.lower(), pattern.lower()
    if fnmatch.fnmatchcase(name, pattern):
        return True
    return "/" not in pattern and "/" in name and fnmatch.fnmatchcase(name.rsplit("/", 1)[1], pattern)


def validate_name(name: Any, kind: str) -> str:
    """Return ``name`` if it is a valid zoo name (lowercase ``[a-z0-9][a-z0-9_.-/]*``), else raise
    ValueError naming the ``kind`` of entry (a registry name: ``models``)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(
            f"invalid {by_registry(kind).singular} name {name!r}: names are lowercase letters, digits and "
            f"'_', '.', '-', '/', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Provenance:
    """Which plugin (and the distribution that ships it) contributed an entry."""

    plugin: Optional[str] = None
    distribution: Optional[str] = None
    version: Optional[str] = None


DIRECT = Provenance()


def load_target(target: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the object it names.

    What the module prints while it is imported goes to stderr: zoo's stdout (``--json``) stays clean.
    """
    module_name, _, attr = target.partition(":")
    with contextlib.redirect_stdout(sys.stderr):
        obj = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


@dataclass
class Entry:
    """One registered component: its name, factory, description and provenance."""

    name: str
    kind: str
    factory_ref: Factory
    summary: str = ""
    tags: tuple = ()
    metadata: dict = field(default_factory=dict)
    provenance: Provenance = DIRECT
    conflicts: tuple = ()  # provenances of other plugins that registered the same name
    bound_name: Optional[str] = None  # for namespace entries: first argument of the factory

    @property
    def plugin(self) -> Optional[str]:
        return self.provenance.plugin

    @property
    def distribution(self) -> Optional[str]:
        return self.provenance.distribution

    @property
    def version(self) -> Optional[str]:
        return self.provenance.version

    def load(self) -> Callable[..., Any]:
        """Return the factory callable, importing it first when it was registered by path."""
        factory = self.factory_ref
        if isinstance(factory, str):
            factory = load_target(factory)
            self.factory_ref = factory
        return factory

    def signature(self) -> inspect.Signature:
        """The factory's signature as a recipe section sees it (a bound first argument removed)."""
        sig = inspect.signature(self.load())
        if self.bound_name is not None:
            params = list(sig.parameters.values())[1:]
            sig = sig.replace(parameters=params)
        return sig

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.load()) or ""

    def create(self, *args: Any, **kwargs: Any) -> Any:
        """Call the factory and return what it builds.

        ``args`` are what the runner passes first (an optimizer's parameters, a scheduler's
        optimizer); ``kwargs`` are the recipe section's keys.
        """
        factory = self.load()
        if self.bound_name is not None:
            return factory(self.bound_name, *args, **kwargs)
        return factory(*args, **kwargs)

    def describe(self) -> dict:
        """A JSON-ready description for listings (no import of the factory)."""
        return {
            "name": self.name,
            "kind": by_registry(self.kind).singular,
            "summary": self.summary,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "tags": list(self.tags),
            "metadata": {k: ready for k, v in self.metadata.items() if (ready := _json_ready(v)) is not _UNFIT},
        }


@dataclass
class Namespace:
    """A family of entries ``prefix/<name>`` whose names come from ``lister`` when asked."""

    prefix: str
    kind: str
    factory_ref: Factory
    lister: Callable[[], Iterable[Any]]
    summary: str = ""
    tags: tuple = ()
    metadata: dict = field(default_factory=dict)
    provenance: Provenance = DIRECT
    _names: Optional[dict] = None
    _member_metadata: dict = field(default_factory=dict)

    def names(self) -> dict:
        """``{short name: summary}``, computed once (this is where the catalog gets imported).

        The lister's items are names, ``(name, summary)`` pairs or ``(name, summary, metadata)``
        triples; a member's metadata is added to the namespace's own (``card``: the figures its
        source publishes; ``pretrained_tags``: ``{tag: figures that differ}``)."""
        if self._names is None:
            names, extra = {}, {}
            for item in self.lister():
                short, summary = (item, "") if isinstance(item, str) else (item[0], item[1])
                if NAME_RE.match(f"{self.prefix}/{short}"):
                    names[short] = summary or self.summary
                    if not isinstance(item, str) and len(item) > 2 and isinstance(item[2], dict):
                        extra[short] = item[2]
            self._names, self._member_metadata = names, extra
        return self._names

    def entry(self, short: str, summary: str = "") -> Entry:
        return Entry(
            name=f"{self.prefix}/{short}",
            kind=self.kind,
            factory_ref=self.factory_ref,
            summary=summary or self.summary,
            tags=self.tags,
            metadata={**self.metadata, **self._member_metadata.get(short, {})},
            provenance=self.provenance,
            bound_name=short,
        )

    def tagged_entry(self, short: str) -> Optional[Entry]:
        """The member ``architecture.tag`` (``resnet50.a1_in1k``) when ``architecture`` is a member
        whose ``pretrained_tags`` metadata holds ``tag`` (case-insensitive): the architecture's entry
        bound to the tagged name, its ``card`` updated with the tag's figures; else None."""
        architecture, dot, tag = short.partition(".")
        if not dot or architecture not in self.names():
            return None
        tags = self._member_metadata.get(architecture, {}).get("pretrained_tags") or {}
        tag = tag.lower()
        if tag not in tags:
            return None
        entry = self.entry(architecture, self._names[architecture])
        entry.name, entry.bound_name = f"{self.prefix}/{architecture}.{tag}", f"{architecture}.{tag}"
        entry.metadata = {k: v for k, v in entry.metadata.items() if k != "pretrained_tags"}
        entry.metadata["card"] = {**entry.metadata.get("card", {}), **tags[tag], "tag": tag, "pretrained": True}
        return entry

    def tag_names(self, short: str) -> list:
        """``architecture.tag`` for each pretrained tag of the member ``short`` (``[]`` without tags)."""
        self.names()
        tags = self._member_metadata.get(short, {}).get("pretrained_tags") or {}
        return [f"{short}.{tag}" for tag in tags]


class UnknownNameError(UserError, KeyError):
    """An unknown component name; the message suggests the closest registered names, and names
    the plugins that failed to load (the name may be one of theirs)."""

    def __init__(self, kind: str, name: str, suggestions: list, failed_plugins: Iterable[str] = ()):
        hint = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        failed = sorted(failed_plugins)
        note = ""
        if failed:
            which = ", ".join(repr(p) for p in failed)
            note = (f"; plugin{'s' if len(failed) > 1 else ''} {which} failed to load, so "
                    f"{'their' if len(failed) > 1 else 'its'} entries are missing ('zoo plugins' says why)")
        super().__init__(
            f"unknown {by_registry(kind).singular} {name!r}{hint}; 'zoo list {kind}' shows them all{note}"
        )
        self.kind, self.name, self.suggestions = kind, name, suggestions

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return self.message


class ConflictError(UserError):
    """A name registered by two plugins: using it is ambiguous."""


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list:
    """The up-to-``n`` candidates closest to ``name`` (substring matches first)."""
    candidates = list(candidates)
    close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
    if len(close) < n:
        tail = name.rsplit("/", 1)[-1]
        for c in candidates:
            if c not in close and tail and (c.endswith("/" + tail) or c == tail):
                close.append(c)
            if len(close) >= n:
                break
    return close[:n]


class Registry:
    """The name -> factory table of one kind (``models``, ``datasets``, ...)."""

    def __init__(self, kind: str):
        """``kind``: the kind's registry name or any word ``zoo.kinds.lookup`` takes (``model``)."""
        self.kind = lookup(kind).registry
        self.singular = by_registry(self.kind).singular  # "model", for messages
        self._entries: dict = {}
        self._namespaces: dict = {}
        self._provenance: Provenance = DIRECT
        self.warnings: list = []
        # plugin name -> why it failed (shared with the plugin manager); named by unknown-name errors
        self.failed_plugins: dict = {}

    # -- filling -------------------------------------------------------------------------

    @contextmanager
    def contributing(self, provenance: Provenance) -> Iterator[None]:
        """Within the block, new entries are attributed to ``provenance`` (used by the plugin manager)."""
        previous, self._provenance = self._provenance, provenance
        try:
            yield
        finally:
            self._provenance = previous

    def register(
        self,
        name: str,
        factory: Optional[Factory] = None,
        *,
        summary: Optional[str] = None,
        tags: Iterable[str] = (),
        **metadata: Any,
    ) -> Any:
        """Register ``factory`` under ``name``; without ``factory``, return a decorator that does.

        ``factory`` is a callable or a ``"module:attr"`` string imported on first use.
        ``summary`` defaults to the first line of the factory's docstring; ``tags`` and any
        other keyword (``input_size=(3, 224, 224)``, ``paper=...``) are kept as metadata.
        Returns the factory (so the decorator form leaves the function as it was).
        """
        if factory is None:
            def decorator(fn: Factory) -> Factory:
                self.register(name, fn, summary=summary, tags=tags, **metadata)
                return fn

            return decorator
        validate_name(name, self.kind)
        if not (callable(factory) or isinstance(factory, str)):
            raise TypeError(f"factory for {self.singular} {name!r} must be callable or 'module:attr'")
        if summary is None:
            doc = inspect.getdoc(factory) if callable(factory) else None
            summary = doc.strip().splitlines()[0] if doc else ""
        entry = Entry(
            name=name,
            kind=self.kind,
            factory_ref=factory,
            summary=summary,
            tags=tuple(tags),
            metadata=metadata,
            provenance=self._provenance,
        )
        self._add(entry)
        return factory

    def register_namespace(
        self,
        prefix: str,
        factory: Factory,
        *,
        lister: Callable[[], Iterable[Any]],
        summary: str = "",
        tags: Iterable[str] = (),
        **metadata: Any,
    ) -> None:
        """Register the family ``prefix/<name>`` for a large outside catalog.

        ``factory(name, **kwargs)`` builds one member; ``lister()`` returns its names (or
        ``(name, summary)`` pairs). Neither is called at registration, so the catalog's
        package is imported only when a member is listed or used.
        """
        validate_name(prefix, self.kind)
        if "/" in prefix:
            raise ValueError(f"namespace prefix {prefix!r} must not contain '/'")
        existing = self._namespaces.get(prefix)
        if existing is not None:
            self._conflict(prefix + "/*", existing.provenance)
            return
        self._namespaces[prefix] = Namespace(
            prefix=prefix,
            kind=self.kind,
            factory_ref=factory,
            lister=lister,
            summary=summary,
            tags=tuple(tags),
            metadata=metadata,
            provenance=self._provenance,
        )

    def _add(self, entry: Entry) -> None:
        existing = self._entries.get(entry.name)
        if existing is None:
            self._entries[entry.name] = entry
            return
        if existing.provenance == entry.provenance:
            who = f"plugin {entry.plugin!r}" if entry.plugin else "the same caller"
            raise ValueError(f"{self.singular} {entry.name!r} is registered twice by {who}")
        self._conflict(entry.name, existing.provenance)
        existing.conflicts = existing.conflicts + (entry.provenance,)

    def _conflict(self, name: str, first: Provenance) -> None:
        message = (
            f"{self.singular} {name!r} is registered by both plugin {first.plugin!r} "
            f"and plugin {self._provenance.plugin!r}; using it is an error until one is uninstalled"
        )
        self.warnings.append(message)

    def remove_plugin(self, plugin: str) -> None:
        """Drop every entry a plugin contributed (after its hook failed half-way)."""
        self._entries = {k: e for k, e in self._entries.items() if e.plugin != plugin}
        self._namespaces = {k: n for k, n in self._namespaces.items() if n.provenance.plugin != plugin}
        for entry in self._entries.values():
            entry.conflicts = tuple(p for p in entry.conflicts if p.plugin != plugin)

    # -- lookup --------------------------------------------------------------------------

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except UserError:
            return False
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list:
        """The directly registered names (namespaces not expanded), sorted."""
        return sorted(self._entries)

    @property
    def namespaces(self) -> dict:
        return dict(self._namespaces)

    def get(self, name: str) -> Entry:
        """The entry called ``name``; raises UnknownNameError (with suggestions) or ConflictError."""
        entry = self._entries.get(name)
        if entry is None and isinstance(name, str) and "/" in name:
            prefix, _, short = name.partition("/")
            namespace = self._namespaces.get(prefix)
            if namespace is not None:
                names = namespace.names()
                if short in names:
                    return namespace.entry(short, names[short])
                tagged = namespace.tagged_entry(short)
                if tagged is not None:
                    return tagged
                architecture = short.partition(".")[0]
                close = names if architecture not in names else namespace.tag_names(architecture)
                raise UnknownNameError(self.kind, name, [f"{prefix}/{s}" for s in suggest(short, close)],
                                       self.failed_plugins)
        if entry is None:
            raise UnknownNameError(self.kind, str(name), self._suggestions(str(name)), self.failed_plugins)
        if entry.conflicts:
            plugins = " and ".join(repr(p.plugin) for p in (entry.provenance,) + entry.conflicts)
            raise ConflictError(
                f"{self.singular} {name!r} is registered by plugins {plugins}; "
                f"uninstall one of them ('zoo plugins' shows which distribution ships each)"
            )
        return entry

    def _suggestions(self, name: str, n: int = 3) -> list:
        """Up to ``n`` registered names close to the unknown ``name``, across namespaces: the members
        called exactly ``name`` (``resnet18`` -> ``timm/resnet18``, ``torchvision/resnet18``) if any,
        else the close direct names, then the close members. Lists the namespaces' catalogs (an
        error path: importing timm here is worth a right suggestion); one that fails is skipped."""
        short = name.rsplit("/", 1)[-1]
        members: dict = {}  # short name -> the namespaced names it has
        for prefix, namespace in sorted(self._namespaces.items()):
            try:
                names = namespace.names()
            except Exception:  # the catalog's library is missing or broken: no suggestions from it
                continue
            for member in names:
                members.setdefault(member, []).append(f"{prefix}/{member}")
        if short in members:
            return members[short][:n]
        close = suggest(name, self._entries, n)
        # a namespace holds thousands of names: only near-misses (resnt34 -> resnet34) are worth naming
        for member in difflib.get_close_matches(short, list(members), n=n, cutoff=0.8):
            close.extend(m for m in members[member] if m not in close)
        return close[:n]

    def create(self, name: str, **kwargs: Any) -> Any:
        """Build the component ``name`` with ``kwargs`` (the recipe section's other keys)."""
        return self.get(name).create(**kwargs)

    def entries(self, pattern: Optional[str] = None, *, expand: bool = True) -> list:
        """Entries whose name matches the glob ``pattern`` (all when None), sorted by name.

        With ``expand`` the namespaces are listed member by member (this imports their
        catalogs); without it only the directly registered entries are returned.
        """
        found = list(self._entries.values())
        if expand:
            for namespace in self._namespaces.values():
                found.extend(namespace.entry(s, summary) for s, summary in namespace.names().items())
        if pattern:
            found = [e for e in found if name_matches(e.name, pattern)]
        return sorted(found, key=lambda e: e.name)


_UNFIT = object()  # what ``_json_ready`` gives for a value JSON cannot hold


def _json_ready(value: Any) -> Any:
    """``value`` as the catalog's JSON holds it: a NaN or infinity (not JSON) becomes None, unknown,
    wherever it is inside lists and dicts; ``_UNFIT`` when ``value`` holds anything else that is
    not JSON (an object, a dict with a key not a string)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_json_ready(v) for v in value]
        return _UNFIT if any(v is _UNFIT for v in items) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return _UNFIT
        found = {k: _json_ready(v) for k, v in value.items()}
        return _UNFIT if any(v is _UNFIT for v in found.values()) else found
    return _UNFIT


class Registries:
    """One registry per kind in ``zoo.kinds.KINDS`` (models, datasets, losses, optimizers,
    schedulers, tasks): ``registries.models``, ``registries["datasets"]``, ``registries["loss"]``."""

    def __init__(self) -> None:
        self._by_kind = {kind.registry: Registry(kind.registry) for kind in KINDS}

    def __getitem__(self, kind: str) -> Registry:
        """The registry of ``kind``: any word ``zoo.kinds.lookup`` takes; else a ``zoo.UserError``."""
        return self._by_kind[lookup(kind).registry]

    def __getattr__(self, kind: str) -> Registry:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise AttributeError(kind) from None

    def __iter__(self) -> Iterator[Registry]:
        return iter(self._by_kind.values())


"""Loading plugins: entry points -> pluggy -> filled registries; calling the lifecycle hooks.

Built-in and third-party plugins load the same way, through the ``zoo.plugins`` entry-point
group. Each entry point is loaded on its own (pluggy's ``load_setuptools_entrypoints`` stops at
the first one that fails), validated against the hook specs, and its registration hooks are
called one plugin at a time so that every entry records which plugin made it and a plugin that
raises takes only itself down. Each of those steps (and the listing of a plugin's namespaces)
runs contained (``zoo.plugin_containment``): bounded in time, whatever it raises charged to the
plugin, its prints on stderr, interpreter state it changes put back. A failure is a one-line
warning on stderr and a ``failed`` row in ``zoo plugins``; everything else keeps working.

The lifecycle hooks (``zoo_run_start``, ``zoo_epoch_end``, ``zoo_run_end``) are called through
pluggy (``pm.hook.<name>(...)``), so wrappers, ``tryfirst``/``trylast`` and ``specname`` work as
pluggy documents them. Each lifecycle implementation is put behind a guard when its plugin
registers (``zoo.hook_guards``): that is how an exception is charged to the plugin that raised
it, and how a plugin raising in the per-epoch hook is muted while the others carry on.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable, Optional

import pluggy

from zoo import hookspecs
from zoo.hook_guards import guard
from zoo.kinds import KINDS
from zoo.markers import PROJECT
from zoo.plugin_containment import TIMEOUT_VARIABLE, Raised, TimedOut, contained
from zoo.registry import Provenance, Registries
from zoo.type_text import printable

ENTRY_POINT_GROUP = "zoo.plugins"
# The hooks zoo calls one plugin at a time (each entry, each recipe folder records its plugin):
# a wrapper there has no call of several plugins to wrap, so one is refused when its plugin loads.
PER_PLUGIN_HOOKS = tuple(kind.hook for kind in KINDS) + ("zoo_recipe_dirs",)


@dataclass
class PluginInfo:
    """What ``zoo plugins`` shows about one plugin."""

    name: str
    module: str
    distribution: Optional[str] = None
    version: Optional[str] = None
    status: str = "loaded"  # or "failed"
    error: Optional[str] = None
    hooks: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    @property
    def provenance(self) -> Provenance:
        return Provenance(self.name, self.distribution, self.version)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "hooks": list(self.hooks),
            "counts": dict(self.counts),
        }


def warn(message: str) -> None:
    """Print one ``zoo: warning: ...`` line on stderr (unprintable characters, such as a plugin's
    terminal escape sequences, shown escaped)."""
    print(f"zoo: warning: {printable(message)}", file=sys.stderr)


def describe_exception(exc: BaseException) -> str:
    """``ExcType: message`` on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_text(exc: "TimedOut | Raised", step: str) -> str:
    """Why a plugin's loading ``step`` (``importing 'acme.plugin'``, ``zoo_register_models``) failed,
    from what ``PluginManager.contained`` raised."""
    if isinstance(exc, TimedOut):
        return (f"{step} took longer than {exc.seconds:g} s and was given up (${TIMEOUT_VARIABLE} sets the "
                f"bound; 'zoo list --refresh' tries again)")
    return f"{step} raised {describe_exception(exc.error)}"


class PluginManager:
    """zoo's pluggy manager, its plugins' bookkeeping, and the registries they fill."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict = {}
        self.quiet = quiet
        self._registries: Optional[Registries] = None
        self.failures: dict = {}  # plugin name -> why it failed (shown in unknown-name errors)
        self.muted: set = set()  # plugins whose lifecycle hook raised under isolate: not called again
        self._isolating = False  # whether the lifecycle call in progress mutes a plugin that raises
        self._raised: Optional[tuple] = None  # (exception, plugin) last charged to a plugin, not isolated

    @property
    def hook(self) -> Any:
        return self.pm.hook

    # -- loading -------------------------------------------------------------------------

    def load_entrypoints(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every entry point of ``group``, one at a time, isolating failures."""
        for ep in sorted(entry_points(group), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            if ep.name in self.plugins:
                other = self.plugins[ep.name]
                self._fail(
                    info,
                    f"plugin name {ep.name!r} is also used by distribution {other.distribution!r}",
                    register=False,
                )
                self.plugins[f"{ep.name} ({info.distribution})"] = info
                continue
            try:
                obj = self.contained(ep.load, ep.name)
            except (TimedOut, Raised) as exc:  # a plugin's import may raise anything, SystemExit too
                self.plugins[ep.name] = info
                self._fail(info, failure_text(exc, f"importing {ep.value!r}"), register=False)
                continue
            self.add(obj, info)

    def contained(self, call: Callable[[], Any], plugin: str) -> Any:
        """``call()`` run as the plugin ``plugin``'s loading code (``zoo.plugin_containment.contained``):
        bounded in time, its prints on stderr, interpreter state it changed put back (with a warning).
        Raises ``TimedOut`` or ``Raised``."""
        return contained(call, plugin=plugin, report=self._warn)

    def _warn(self, message: str) -> None:
        if not self.quiet:
            warn(message)

    def register(self, obj: Any, name: str, *, distribution: str = None, version: str = None) -> PluginInfo:
        """Register a plugin object directly (tests, embedding); same validation as entry points."""
        info = PluginInfo(name=name, module=getattr(obj, "__name__", repr(obj)),
                          distribution=distribution, version=version)
        self.add(obj, info)
        return info

    def add(self, obj: Any, info: PluginInfo) -> None:
        self.plugins[info.name] = info
        self._registries = None
        try:
            self.pm.register(obj, name=info.name)
        except Exception as exc:  # pluggy.PluginValidationError: a hook with a wrong argument
            self._fail(info, f"invalid hook implementation: {describe_exception(exc)}", register=False)
            return
        callers = self.pm.get_hookcallers(obj) or []
        unknown = [hc.name for hc in callers
                   if not hc.has_spec() and not all(i.optionalhook for i in hc.get_hookimpls())]
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, self.spec_names(), n=1)
                hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            self._fail(info, f"unknown hook {', '.join(hints)}")
            return
        own = [(hc, impl) for hc in callers for impl in hc.get_hookimpls() if impl.plugin is obj]
        refusals = [why for hc, impl in own if (why := refusal(hc.name, impl))]
        if refusals:
            self._fail(info, refusals[0])
            return
        for hc, impl in own:
            if hc.name not in PER_PLUGIN_HOOKS and hc.has_spec():  # a lifecycle hook
                self._guard(hc.name, impl)
        info.hooks = sorted(hc.name for hc in callers)
        stray = [n for n in dir(obj) if n.startswith("zoo_") and callable(getattr(obj, n, None))
                 and self.pm.parse_hookimpl_opts(obj, n) is None]
        if stray and not self.quiet:
            warn(f"plugin {info.name!r}: {', '.join(stray)} not marked with @zoo.hookimpl, so never called")

    def _guard(self, hook_name: str, impl: Any) -> None:
        """Put a lifecycle implementation (a pluggy ``HookImpl``) behind a guard that charges its
        exceptions to its plugin: muted under isolation, else recorded for ``call_lifecycle``."""
        plugin = impl.plugin_name

        def on_fault(exc: Exception) -> bool:
            if not self._isolating:
                self._raised = (exc, plugin)
                return False
            self.muted.add(plugin)
            warn(f"plugin {plugin!r} raised in {hook_name}: {describe_exception(exc)}; "
                 f"its lifecycle hooks are off for the rest of this run")
            return True

        # pluggy calls impl.function with the arguments it read from the plugin's own function
        impl.function = guard(impl.function, on_fault, wrapper=impl.wrapper or impl.hookwrapper)

    def spec_names(self) -> list:
        return [n for n in dir(self.pm.hook) if n.startswith("zoo_") and getattr(self.pm.hook, n).has_spec()]

    def _fail(self, info: PluginInfo, message: str, *, register: bool = True) -> None:
        info.status, info.error = "failed", message
        self.failures[info.name] = message
        if register:
            plugin = self.pm.get_plugin(info.name)
            if plugin is not None:
                self.pm.unregister(plugin)
            if self._registries is not None:
                for registry in self._registries:
                    registry.remove_plugin(info.name)
        if not self.quiet:
            warn(f"plugin {info.name!r} failed: {message}")

    # -- registries ----------------------------------------------------------------------

    @property
    def registries(self) -> Registries:
        """The registries, filled by calling each plugin's registration hooks (once)."""
        if self._registries is None:
            self._registries = self._fill()
        return self._registries

    def _fill(self) -> Registries:
        self._registries = registries = Registries()
        for registry in registries:
            registry.failed_plugins = self.failures
        for kind in KINDS:
            registry = registries[kind.registry]
            for impl in self._one_at_a_time(kind.hook):
                info = self.plugins.get(impl.plugin_name)
                if info is None or info.status != "loaded":
                    continue
                before = len(registry) + len(registry.namespaces)
                try:
                    with registry.contributing(info.provenance):
                        self.contained(lambda: call_impl(impl, registry=registry), info.name)
                except (TimedOut, Raised) as exc:
                    self._fail(info, failure_text(exc, kind.hook))
                    continue
                added = len(registry) + len(registry.namespaces) - before
                info.counts[kind.registry] = info.counts.get(kind.registry, 0) + added
            for message in registry.warnings:
                if not self.quiet:
                    warn(message)
        return registries

    def recipe_dirs(self) -> list:
        """Folders of recipes shipped by plugins, as ``(plugin, path)`` pairs."""
        found = []
        for impl in self._one_at_a_time("zoo_recipe_dirs"):
            try:
                dirs = self.contained(lambda: call_impl(impl), impl.plugin_name)
            except (TimedOut, Raised) as exc:
                info = self.plugins.get(impl.plugin_name)
                if info is not None:
                    self._fail(info, failure_text(exc, "zoo_recipe_dirs"))
                continue
            found.extend((impl.plugin_name, str(d)) for d in dirs or ())
        return found

    def _one_at_a_time(self, hook_name: str) -> list:
        """The implementations of a per-plugin hook in the order zoo calls them: ``tryfirst`` ones
        first, ``trylast`` ones last, and within each group in load order (pluggy lists them so;
        its own calls would take the last loaded first)."""
        return sorted(getattr(self.pm.hook, hook_name).get_hookimpls(), key=lambda i: (not i.tryfirst, i.trylast))

    def call_lifecycle(self, hook_name: str, *, isolate: bool = False, **kwargs: Any) -> None:
        """Call a lifecycle hook through pluggy; an exception names the plugin that raised it.

        Every implementation is called as pluggy calls it (wrappers around the others, in
        ``tryfirst``/``trylast`` order), except those of muted plugins. Without ``isolate`` an
        exception a plugin raises (or a wrapper lets through) is raised as a ``PluginError``
        naming that plugin. With ``isolate`` (the per-epoch hook, called while a model trains)
        the plugin that raised is reported in one warning line, the other plugins still get the
        call, and its lifecycle hooks are not called again in this process: a broken logger
        costs its own output, not the training run.
        """
        muted = [self.pm.get_plugin(name) for name in sorted(self.muted)]
        hook_caller = self.pm.subset_hook_caller(hook_name, remove_plugins=muted)
        outer, self._isolating = self._isolating, isolate
        try:
            hook_caller(**kwargs)
        except Exception as exc:
            if self._raised is None or self._raised[0] is not exc:  # not a plugin's own: pluggy's, or zoo's
                raise
            raise PluginError(self._raised[1], hook_name, exc) from exc
        finally:
            self._isolating, self._raised = outer, None


class PluginError(RuntimeError):
    """A plugin's hook raised while zoo was running."""

    def __init__(self, plugin: str, hook: str, exc: BaseException):
        super().__init__(f"plugin {plugin!r} raised in {hook}: {describe_exception(exc)}")
        self.plugin, self.hook_name, self.original = plugin, hook, exc


def refusal(hook_name: str, impl: Any) -> Optional[str]:
    """Why zoo cannot honour ``impl`` (a pluggy ``HookImpl`` of the hook ``hook_name``); None when it can."""
    if hook_name in PER_PLUGIN_HOOKS and (impl.wrapper or impl.hookwrapper):
        option = "wrapper=True" if impl.wrapper else "hookwrapper=True"
        return (f"{hook_name} is marked {option}, but zoo calls {hook_name} one plugin at a time, "
                f"so there is no call for a wrapper to wrap; implement it without {option}")
    return None


def call_impl(impl: Any, **offered: Any) -> Any:
    """Call one hook implementation (a pluggy ``HookImpl``) with the arguments it names, as pluggy would."""
    return impl.function(*[offered[a] for a in impl.argnames],
                         **{a: offered[a] for a in impl.kwargnames if a in offered})


def entry_points(group: str) -> Iterable[metadata.EntryPoint]:
    """The entry points of ``group`` in the current environment, one per (name, value)."""
    seen, found = set(), []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        key = (ep.name, ep.value, dist.metadata["Name"] if dist is not None else None)
        if key not in seen:
            seen.add(key)
            found.append(ep)
    return found


_manager: Optional[PluginManager] = None


def get_manager(*, quiet: bool = False) -> PluginManager:
    """The process-wide manager with every installed plugin loaded (created on first call)."""
    global _manager
    if _manager is None:
        manager = PluginManager(quiet=quiet)
        manager.load_entrypoints()
        _manager = manager
    return _manager


def reset_manager() -> None:
    """Forget the process-wide manager (tests; after installing a plugin in-process)."""
    global _manager
    _manager = None

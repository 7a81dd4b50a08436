"""Plugin-manager factory: loads the ``gpuaudio`` entry points one at a time, tolerantly.

There is no module-global manager: every caller (service, CLI, test) builds its own registry.
Plugin code (an entry point's import, a hook call) runs in a worker thread with a time limit
and anything it raises, `BaseException` included, is recorded as that plugin's failure: no
plugin can end, hang or exhaust the host. A real Ctrl-C reaches the main thread and stops it.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, dataclass, field, replace
from importlib import metadata
from typing import Any

import pluggy

from gpuaudio import hookspecs
from gpuaudio.backends import API_VERSION, FEATURES, BackendSpec, Feature
from gpuaudio.errors import ConfigError, describe

ENTRY_POINT_GROUP = "gpuaudio"
PLUGINS_ENV = "GPUAUDIO_PLUGINS"
TIMEOUT_ENV = "GPUAUDIO_PLUGIN_IMPORT_TIMEOUT"
DEFAULT_TIMEOUT = 10.0
"""Seconds a plugin's import, or one of its hook calls, may take before it is given up."""
MAX_SPECS_PER_HOOK = 64
"""Backends one hook call may register; the rest (an endless generator) are refused."""
log = logging.getLogger(__name__)


class _PluginFault(Exception):
    """Plugin code raised (anything) or did not return in time; the message says which."""


def _isolated(call: Callable[[], Any], seconds: float, what: str) -> Any:
    """Run plugin code in a daemon worker thread and return its result.

    Raises `_PluginFault` when it raises any `BaseException` or runs past `seconds`. The main
    thread waits in short slices, so a real Ctrl-C interrupts the wait and propagates.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # SystemExit, KeyboardInterrupt... from plugin code
            outcome["error"] = exc

    worker = threading.Thread(target=work, name=f"gpuaudio plugin: {what}", daemon=True)
    worker.start()
    deadline = time.monotonic() + seconds
    while worker.is_alive() and time.monotonic() < deadline:
        worker.join(min(0.05, max(0.0, deadline - time.monotonic())))
    if worker.is_alive():
        raise _PluginFault(
            f"{what} did not finish within {seconds:g} s ({TIMEOUT_ENV}); it may hang: "
            f"leave it out with {PLUGINS_ENV}=<the plugins to load>, or uninstall it"
        )
    if "error" in outcome:
        raise _PluginFault(describe(outcome["error"]))
    return outcome["value"]


def plugin_timeout(environ: dict[str, str] | None = None) -> float:
    """The time limit from ``GPUAUDIO_PLUGIN_IMPORT_TIMEOUT`` (seconds), else the default."""
    raw = (os.environ if environ is None else environ).get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {raw!r}")
    return seconds


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be imported or whose hook failed; shown by `gpuaudio plugins`."""

    plugin: str
    distribution: str
    error: str


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin that registered successfully."""

    plugin: str
    distribution: str
    version: str


@dataclass
class PluginRegistry:
    """The backends registered by the loaded plugins, plus the plugins that failed."""

    manager: pluggy.PluginManager
    loaded: list[LoadedPlugin] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    """Seconds one hook call may take (`GPUAUDIO_PLUGIN_IMPORT_TIMEOUT`)."""
    _specs: dict[Feature, list[BackendSpec]] | None = None
    _broken: set[str] = field(default_factory=set)
    """Plugins whose hook failed: never called again (a hung hook would hang every collect)."""

    def specs(self, feature: Feature) -> list[BackendSpec]:
        """Every valid `BackendSpec` registered for `feature`, in registration order."""
        if self._specs is None:
            self.collect()
        assert self._specs is not None
        return list(self._specs[feature])

    def collect(self) -> None:
        """Call every plugin's hooks once; a plugin whose hook fails moves to `failures`."""
        self._specs = self._collect()

    def all_specs(self) -> list[BackendSpec]:
        """Every registered spec, all features."""
        return [spec for feature in FEATURES for spec in self.specs(feature)]

    def backend_names(self) -> set[str]:
        """Names of every registered backend (any feature)."""
        return {spec.name for spec in self.all_specs()}

    def register(self, plugin: Any, name: str, distribution: str = "", version: str = "") -> None:
        """Register an in-process plugin object (tests, embedding applications)."""
        self.manager.register(plugin, name=name)
        self.loaded.append(LoadedPlugin(name, distribution or name, version))
        self.collect()

    def _collect(self) -> dict[Feature, list[BackendSpec]]:
        collected: dict[Feature, list[BackendSpec]] = {feature: [] for feature in FEATURES}
        for feature in FEATURES:
            hook = hookspecs.HOOK_BY_FEATURE[feature]
            for impl in getattr(self.manager.hook, hook).get_hookimpls():
                if impl.plugin_name in self._broken:
                    continue
                try:
                    specs = _isolated(
                        functools.partial(_bounded_call, impl.function), self.timeout, f"{hook}()"
                    )
                    if len(specs) > MAX_SPECS_PER_HOOK:
                        specs = specs[:MAX_SPECS_PER_HOOK]
                        self._warn(
                            impl.plugin_name,
                            f"{hook}() returned more than {MAX_SPECS_PER_HOOK} backends: "
                            f"the first {MAX_SPECS_PER_HOOK} are used, the rest refused",
                        )
                    specs = _validated_specs(specs, feature)
                except (_PluginFault, TypeError, ValueError) as exc:
                    self._broken.add(impl.plugin_name)
                    self._record_failure(impl.plugin_name, f"{feature} hook failed: {exc}")
                    continue
                for spec in [s for s in specs if not s.api_compatible]:
                    self._warn(
                        impl.plugin_name,
                        f"{feature} backend {spec.name!r} is written for plugin API "
                        f"{spec.api_version}, this gpuaudio speaks {API_VERSION}: refused; "
                        "install a version of the plugin for this gpuaudio, or upgrade gpuaudio",
                    )
                specs = [s for s in specs if s.api_compatible]
                collected[feature].extend(replace(s, plugin=impl.plugin_name) for s in specs)
        for feature in FEATURES:
            kept = [s for s in collected[feature] if s.plugin not in self._broken]
            collected[feature] = self._without_name_clashes(feature, kept)
        return collected

    def _without_name_clashes(
        self, feature: Feature, specs: list[BackendSpec]
    ) -> list[BackendSpec]:
        """Drop every backend whose (feature, name) two registrations claim: which one served
        would depend on load order, so neither does; the clash is recorded in `failures`."""
        claimants: dict[str, list[str]] = {}
        for spec in specs:
            claimants.setdefault(spec.name, []).append(spec.plugin)
        clashes = {name: plugins for name, plugins in claimants.items() if len(plugins) > 1}
        for name, plugins in clashes.items():
            error = (
                f"{' and '.join(plugins)} both register a {feature} backend named {name!r}: "
                "neither is used; uninstall one, or load one with GPUAUDIO_PLUGINS"
            )
            self._add_failure(PluginFailure(", ".join(plugins), "name clash", error))
        return [spec for spec in specs if spec.name not in clashes]

    def _add_failure(self, failure: PluginFailure) -> None:
        """Record and log a failure once (collect() runs again on every register())."""
        if failure not in self.failures:
            log.warning("gpuaudio plugin %s (%s): %s", *astuple(failure))
            self.failures.append(failure)

    def _distribution(self, plugin: str) -> str:
        return next((p.distribution for p in self.loaded if p.plugin == plugin), plugin)

    def _warn(self, plugin: str, error: str) -> None:
        """Record a fault of a plugin that stays loaded."""
        self._add_failure(PluginFailure(plugin, self._distribution(plugin), error))

    def _record_failure(self, plugin: str, error: str) -> None:
        """Record a plugin that cannot serve, and drop it from `loaded`."""
        self._warn(plugin, error)
        self.loaded = [p for p in self.loaded if p.plugin != plugin]


def _bounded_call(hook: Callable[[], Iterable[BackendSpec] | None]) -> list[BackendSpec]:
    """At most one more than `MAX_SPECS_PER_HOOK` items of a hook's result (any iterable)."""
    return list(itertools.islice(hook() or (), MAX_SPECS_PER_HOOK + 1))


def _validated_specs(specs: list[BackendSpec], feature: Feature) -> list[BackendSpec]:
    for spec in specs:
        if not isinstance(spec, BackendSpec):
            raise TypeError(f"hook returned {type(spec).__name__}, expected BackendSpec")
        if spec.feature != feature:
            raise ValueError(
                f"backend {spec.name!r} has feature {spec.feature!r}, hook is {feature!r}"
            )
    return specs


def _canonical(distribution: str) -> str:
    """A distribution's name as pip compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _refuse_entry_point_clash(
    registry: PluginRegistry, name: str, first: str, second: str
) -> None:
    """Two distributions claim the plugin name `name`: which one loads would depend on the
    order of sys.path, so neither does (the first is unregistered if it loaded)."""
    if registry.manager.has_plugin(name):
        registry.manager.unregister(name=name)
        registry.loaded[:] = [p for p in registry.loaded if p.plugin != name]
    error = (
        f"the plugin name {name!r} is claimed by {first} and by {second}; neither is loaded: "
        "uninstall the one you do not trust"
    )
    registry._add_failure(PluginFailure(name, f"{first}, {second}", error))


def make_plugin_manager(
    *,
    load_entry_points: bool = True,
    only: Sequence[str] | None = None,
    timeout: float | None = None,
) -> PluginRegistry:
    """Build a fresh registry, loading each ``gpuaudio`` entry point in isolation.

    `only` (or the comma-separated ``GPUAUDIO_PLUGINS`` variable) restricts which entry points
    load. A plugin whose import raises (anything) or takes longer than `timeout` seconds
    (default ``GPUAUDIO_PLUGIN_IMPORT_TIMEOUT``, else 10) is recorded in `failures` and
    logged, never re-raised.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    registry = PluginRegistry(manager, timeout=plugin_timeout() if timeout is None else timeout)
    if not load_entry_points:
        return registry
    if only is None and os.environ.get(PLUGINS_ENV):
        only = [name.strip() for name in os.environ[PLUGINS_ENV].split(",") if name.strip()]
    owners: dict[str, str] = {}  # entry-point name -> the distribution that claimed it first
    clashed: set[str] = set()
    entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    for missing in sorted(set(only or ()) - {entry_point.name for entry_point in entry_points}):
        installed = ", ".join(sorted({entry_point.name for entry_point in entry_points}))
        registry._add_failure(PluginFailure(
            missing, PLUGINS_ENV, f"no installed plugin is named {missing!r} (installed: "
            f"{installed or 'none'})",
        ))  # fmt: skip
    for entry_point in entry_points:
        if only is not None and entry_point.name not in only:
            continue
        dist = entry_point.dist
        dist_name = dist.metadata["Name"] if dist is not None else entry_point.value
        version = dist.version if dist is not None else ""
        owner = owners.setdefault(entry_point.name, dist_name)
        if _canonical(owner) != _canonical(dist_name) or entry_point.name in clashed:
            _refuse_entry_point_clash(registry, entry_point.name, owner, dist_name)
            clashed.add(entry_point.name)
            continue
        if manager.has_plugin(entry_point.name):
            continue  # the same distribution seen twice on sys.path
        try:
            module = _isolated(
                entry_point.load, registry.timeout, f"import of plugin {entry_point.name!r}"
            )
            manager.register(module, name=entry_point.name)
        except (_PluginFault, ValueError, pluggy.PluginValidationError) as exc:
            registry._add_failure(PluginFailure(entry_point.name, dist_name, str(exc)))
            continue
        registry.loaded.append(LoadedPlugin(entry_point.name, dist_name, version))
    registry.collect()
    return registry

"""Plugin-manager factory: loads the ``gpuaudio`` entry points one at a time, tolerantly.

There is no module-global manager: every caller (service, CLI, test) builds its own registry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any

import pluggy

from gpuaudio import hookspecs
from gpuaudio.backends import FEATURES, BackendSpec, Feature

ENTRY_POINT_GROUP = "gpuaudio"
PLUGINS_ENV = "GPUAUDIO_PLUGINS"
log = logging.getLogger(__name__)


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
    _specs: dict[Feature, list[BackendSpec]] | None = None

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
        broken: set[str] = set()
        for feature in FEATURES:
            caller = getattr(self.manager.hook, hookspecs.HOOK_BY_FEATURE[feature])
            for impl in caller.get_hookimpls():
                if impl.plugin_name in broken:
                    continue
                try:
                    specs = _validated_specs(impl.function(), feature)
                except (Exception, SystemExit) as exc:  # a plugin's bug never stops the host
                    broken.add(impl.plugin_name)
                    self._record_failure(impl.plugin_name, f"{feature} hook failed: {exc!r}")
                    continue
                collected[feature].extend(replace(s, plugin=impl.plugin_name) for s in specs)
        for feature in FEATURES:
            kept = [s for s in collected[feature] if s.plugin not in broken]
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
            failure = PluginFailure(", ".join(plugins), "name clash", error)
            if failure not in self.failures:  # collect() runs again on every register()
                log.warning("%s", error)
                self.failures.append(failure)
        return [spec for spec in specs if spec.name not in clashes]

    def _record_failure(self, plugin: str, error: str) -> None:
        dist = next((p.distribution for p in self.loaded if p.plugin == plugin), plugin)
        self.loaded = [p for p in self.loaded if p.plugin != plugin]
        self.failures.append(PluginFailure(plugin, dist, error))


def _validated_specs(result: Iterable[BackendSpec] | None, feature: Feature) -> list[BackendSpec]:
    specs = list(result or ())
    for spec in specs:
        if not isinstance(spec, BackendSpec):
            raise TypeError(f"hook returned {type(spec).__name__}, expected BackendSpec")
        if spec.feature != feature:
            raise ValueError(
                f"backend {spec.name!r} has feature {spec.feature!r}, hook is {feature!r}"
            )
    return specs


def make_plugin_manager(
    *,
    load_entry_points: bool = True,
    only: Sequence[str] | None = None,
) -> PluginRegistry:
    """Build a fresh registry, loading each ``gpuaudio`` entry point in isolation.

    `only` (or the comma-separated ``GPUAUDIO_PLUGINS`` variable) restricts which entry points
    load. A plugin that raises while importing is recorded in `failures`, never re-raised.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    registry = PluginRegistry(manager)
    if not load_entry_points:
        return registry
    if only is None and os.environ.get(PLUGINS_ENV):
        only = [name.strip() for name in os.environ[PLUGINS_ENV].split(",") if name.strip()]
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if only is not None and entry_point.name not in only:
            continue
        dist = entry_point.dist
        dist_name = dist.metadata["Name"] if dist is not None else entry_point.value
        version = dist.version if dist is not None else ""
        if manager.has_plugin(entry_point.name):
            continue  # the same distribution seen twice on sys.path
        try:
            module = entry_point.load()
            manager.register(module, name=entry_point.name)
        except (Exception, SystemExit) as exc:  # any import-time failure is the plugin's
            registry.failures.append(PluginFailure(entry_point.name, dist_name, f"{exc!r}"))
            continue
        registry.loaded.append(LoadedPlugin(entry_point.name, dist_name, version))
    registry.collect()
    return registry

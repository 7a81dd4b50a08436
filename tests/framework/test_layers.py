"""The house in layers (docs/architecture.md): framework < analysis < batch, evaluation < cli.

Every import in the package, at module level or inside a function, goes to the importing
module's own layer or a lower one; `batch` and `evaluation` never import each other; and the
imports form no circle. The only upward imports are the lazy delegations listed here, each
inside a function (never at import time).
"""

from __future__ import annotations

import ast
import importlib
import warnings
from pathlib import Path

import pytest

import gpuaudio
from gpuaudio._moved import MOVED_MODULES

PACKAGE = Path(gpuaudio.__file__).parent
RANK = {"framework": 0, "analysis": 1, "batch": 2, "evaluation": 2, "cli": 3}
LAZY_UPWARD = {
    ("gpuaudio.service", "gpuaudio.analysis.escalation"),  # detect_emotional_escalation (REQ-N-003)
    ("gpuaudio", "gpuaudio.analysis.streaming"),  # the public name EscalationMonitor (_LAZY)
}
"""(importer, imported): upward imports allowed only inside a function or for type checking."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else "framework"


MODULES = {
    module_name(path): path
    for path in sorted(PACKAGE.rglob("*.py"))
    if module_name(path) not in MOVED_MODULES  # deprecated aliases: see test_moved_modules
}


def _target(name: str) -> str | None:
    """The package module `name` refers to (a submodule, else its package), or None."""
    while name.startswith("gpuaudio"):
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> list[tuple[str, bool, bool]]:
    """(imported module, inside a function, under `if TYPE_CHECKING`) for each import."""
    tree = ast.parse(MODULES[module].read_text())
    found: list[tuple[str, bool, bool]] = []

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                assert child.level == 0, f"{module}: relative import (the package uses absolute)"
                base = child.module or ""
                names = [f"{base}.{alias.name}" for alias in child.names]
                names = [name if _target(name) == name else base for name in names]
            for name in names:
                target = _target(name)
                if target is not None and target != module:
                    found.append((target, in_function, type_only))
            nested_function = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            nested_type_only = type_only or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            visit(child, nested_function, nested_type_only)

    visit(tree, False, False)
    return found


def test_the_package_has_the_layers():
    assert {layer(m) for m in MODULES} == set(RANK)
    assert MODULES, "no module found"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_a_higher_layer(module):
    mine = layer(module)
    for target, in_function, type_only in imports(module):
        theirs = layer(target)
        if theirs == mine:
            continue
        if (module, target) in LAZY_UPWARD:
            assert in_function or type_only, f"{module} may import {target} only lazily"
            continue
        assert RANK[theirs] < RANK[mine], (
            f"{module} ({mine}) imports {target} ({theirs}): a layer may import only from the "
            "layers below it (docs/architecture.md)"
        )


def test_no_import_circle():
    graph = {
        module: {t for t, _, type_only in imports(module) if not type_only} for module in MODULES
    }
    for module, target in LAZY_UPWARD:
        graph[module].discard(target)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circle = [*path[path.index(target):], target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                walk(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])


def test_the_rule_test_sees_imports():
    """The checker itself: the service's lazy delegation and the CLI's imports are found."""
    assert ("gpuaudio.analysis.escalation", True, False) in imports("gpuaudio.service")
    cli_bench = [target for target, _, _ in imports("gpuaudio.cli.bench")]
    assert "gpuaudio.evaluation.bench" in cli_bench
    assert layer("gpuaudio.cli.main") == "cli" and layer("gpuaudio.service") == "framework"


def test_public_names_from_higher_layers_are_lazy():
    """`import gpuaudio` loads the framework; `gpuaudio.EscalationMonitor` loads on first use."""
    assert set(gpuaudio._LAZY.values()) <= {m for m in MODULES if layer(m) == "analysis"}
    assert gpuaudio.EscalationMonitor.__module__ == "gpuaudio.analysis.streaming"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gpuaudio.nope  # noqa: B018


@pytest.mark.parametrize(("old", "new"), sorted(MOVED_MODULES.items()))
def test_moved_modules_still_import_with_a_deprecation_warning(old, new):
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(f"from {old} import *", {})  # names resolve through the alias

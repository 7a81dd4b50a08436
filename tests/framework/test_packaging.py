"""The distributions name each other by version, never by path: a path (hatchling's
``{root:uri}``) is the build machine's and breaks a wheel published or copied elsewhere."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = [ROOT / "pyproject.toml", *sorted((ROOT / "plugins").glob("*/pyproject.toml"))]


def _requirements(project: dict) -> list[Requirement]:
    listed = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        listed += extra
    return [Requirement(text) for text in listed]


def _plugin_versions() -> dict[str, str]:
    versions = {}
    for path in PROJECTS[1:]:
        project = tomllib.loads(path.read_text())["project"]
        version = project.get("version")
        if version is None:  # dynamic: the package's __version__
            module = path.parent / project["name"].replace("-", "_") / "__init__.py"
            line = next(x for x in module.read_text().splitlines() if x.startswith("__version__"))
            version = line.split("=")[1].strip().strip("\"'")
        versions[project["name"]] = version
    return versions


@pytest.mark.parametrize("path", PROJECTS, ids=lambda p: p.parent.name)
def test_no_requirement_is_a_path_or_url(path):
    project = tomllib.loads(path.read_text())["project"]
    for requirement in _requirements(project):
        assert requirement.url is None, f"{path}: {requirement} names a path or URL"
    assert "{root" not in path.read_text()


def test_plugin_requirements_admit_the_plugins_of_this_checkout():
    versions = _plugin_versions()
    for path in PROJECTS:
        for requirement in _requirements(tomllib.loads(path.read_text())["project"]):
            if requirement.name in versions:
                assert requirement.specifier.contains(versions[requirement.name]), (
                    f"{path}: {requirement} excludes the checkout's {versions[requirement.name]}"
                )
                assert str(requirement.specifier), f"{path}: {requirement} has no version range"

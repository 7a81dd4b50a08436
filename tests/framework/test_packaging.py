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


def _version(path: Path) -> str:
    """The distribution's version from the one file hatch reads it from (never a literal)."""
    config = tomllib.loads(path.read_text())
    assert "version" not in config["project"], f"{path}: version written here, not single-sourced"
    assert config["project"]["dynamic"] == ["version"], path
    source = path.parent / config["tool"]["hatch"]["version"]["path"]
    line = next(x for x in source.read_text().splitlines() if x.startswith("__version__ = "))
    return line.split("=")[1].split("#")[0].strip().strip("\"'")


def _versions() -> dict[str, str]:
    return {tomllib.loads(p.read_text())["project"]["name"]: _version(p) for p in PROJECTS}


def test_the_core_version_is_the_package_version():
    import gpuaudio

    assert _version(ROOT / "pyproject.toml") == gpuaudio.__version__


def test_all_installs_without_nvidias_index():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = extras["optional-dependencies"]
    named = {Requirement(r).name for r in extras["all"]} | {
        extra for r in extras["all"] for extra in Requirement(r).extras
    }
    assert "tensorrt" not in named and "gpuaudio-tensorrt" not in named
    assert [Requirement(r).name for r in extras["tensorrt"]] == ["gpuaudio-tensorrt"]


@pytest.mark.parametrize("path", PROJECTS, ids=lambda p: p.parent.name)
def test_no_requirement_is_a_path_or_url(path):
    project = tomllib.loads(path.read_text())["project"]
    for requirement in _requirements(project):
        assert requirement.url is None, f"{path}: {requirement} names a path or URL"
    assert "{root" not in path.read_text()


def test_requirements_between_the_distributions_admit_this_checkout():
    versions = _versions()
    for path in PROJECTS:
        project = tomllib.loads(path.read_text())["project"]
        for requirement in _requirements(project):
            if requirement.name in versions and requirement.name != project["name"]:
                assert requirement.specifier.contains(versions[requirement.name]), (
                    f"{path}: {requirement} excludes the checkout's {versions[requirement.name]}"
                )
                assert str(requirement.specifier), f"{path}: {requirement} has no version range"

"""environment.yml and pyproject.toml list the same pinned packages; the Makefile and .ci/run agree."""

from __future__ import annotations

import tomllib

import yaml

from svtools.paths import ROOT


def _pyproject_deps():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["test"])


def _environment_deps():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    return set(pip), python


def test_environment_yml_matches_pyproject():
    pip, python = _environment_deps()
    assert pip == _pyproject_deps()
    assert python == ["python=3.11"]


def test_every_dependency_is_pinned():
    assert all("==" in d for d in _pyproject_deps())


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme
    assert "make demo" in readme

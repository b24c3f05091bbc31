"""The Binder files agree with pyproject.toml, and the JupyterHub example is valid Python."""

from __future__ import annotations

import ast
import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements() -> dict[str, str]:
    lines = (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    reqs = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return {_name(r): r for r in reqs}


def test_binder_requirements_list_every_dependency_as_pyproject_pins_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = _requirements()
    for dep in project["dependencies"]:
        assert _name(dep) in reqs, f"binder/requirements.txt lacks {dep!r}"
        assert reqs[_name(dep)].replace(" ", "") == dep.replace(" ", ""), dep
    extra = set(reqs) - {_name(d) for d in project["dependencies"]}
    allowed = {_name(d) for d in project["optional-dependencies"]["postgresql"]}
    assert extra <= allowed, f"binder installs packages pyproject does not name: {extra}"


def _commands() -> list[list[str]]:
    text = (BINDER / "postBuild").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return [shlex.split(ln) for ln in lines]


def test_postbuild_installs_the_package_and_builds_the_demo() -> None:
    path = BINDER / "postBuild"
    assert path.read_text(encoding="utf-8").startswith("#!/bin/bash\n")
    assert os.access(path, os.X_OK), "binder/postBuild must be executable"
    commands = _commands()
    assert ["set", "-euo", "pipefail"] in commands
    installs = [c for c in commands if c[:4] == ["python", "-m", "pip", "install"]]
    assert installs and installs[0][-1] == ".", "postBuild must install the package itself"
    builds = [c for c in commands if c[:3] == ["teachingfiles", "demo", "build"]]
    assert len(builds) == 1
    assert "teachingfiles/demo-repository" in builds[0][3]
    assert commands.index(installs[0]) < commands.index(builds[0])
    assert ["teachingfiles", "demo"] in commands  # indexes the demo after building it


class _Config:
    """Stands in for the traitlets config object: records ``c.Section.option = value``."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    def __getattr__(self, section: str) -> Any:
        values = self.values.setdefault(section, {})

        class Section:
            def __setattr__(self, option: str, value: Any) -> None:
                values[option] = value

        return Section()


def test_jupyterhub_example_compiles_and_configures_the_dashboards() -> None:
    path = BINDER / "jupyterhub_config.py"
    source = path.read_text(encoding="utf-8")
    code = compile(ast.parse(source, str(path)), str(path), "exec")
    config = _Config()
    exec(code, {"get_config": lambda: config})
    spawner = config.values["Spawner"]
    assert spawner["default_url"] == "/voila/render/quiz.ipynb"
    env = spawner["environment"]
    assert env["TEACHINGFILES_GRADEBOOK"].startswith("postgresql+psycopg://")
    assert {"TEACHINGFILES_REPOSITORY", "JUPYTER_PATH"} <= set(env)
    assert "--VoilaConfiguration.template=teachingfiles" in spawner["args"]
    from teachingfiles.commands.serve import voila_options

    # what `teachingfiles serve` gives Voila, the hub gives it too (but the template alias)
    assert [o for o in voila_options() if not o.startswith("--template=")] == spawner["args"][1:]


def _slug() -> str:
    """The GitHub repository named once, in binder/README.md."""
    text = (BINDER / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^GitHub repository: ([\w.-]+/[\w.-]+)\s*$", text, flags=re.M)
    assert len(found) == 1, "binder/README.md must name the repository once"
    return str(found[0])


def _binder_links() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"\(?(https://mybinder\.org/[^\s)]+)", readme)


def test_readme_binder_links_launch_this_repository_and_open_files_that_exist() -> None:
    from urllib.parse import parse_qs, unquote, urlsplit

    links = _binder_links()
    opened: dict[str, str] = {}
    for link in links:
        parts = urlsplit(link)
        assert parts.scheme == "https" and parts.netloc == "mybinder.org", link
        assert parts.path == f"/v2/gh/{_slug()}/HEAD", f"{link}: expected /v2/gh/{_slug()}/HEAD"
        query = parse_qs(parts.query, strict_parsing=True)
        assert list(query) == ["urlpath"], link
        (urlpath,) = query["urlpath"]
        app, _, rest = unquote(urlpath).partition("/")
        prefix = {"lab": "tree/", "voila": "render/"}.get(app)
        assert prefix is not None and rest.startswith(prefix), f"{link}: lab/tree or voila/render"
        path = rest.removeprefix(prefix)
        assert (ROOT / path).is_file(), f"{link} opens {path}, which is not in the repository"
        opened[app] = path
    assert opened == {
        "lab": "notebooks/01_getting_started.ipynb",
        "voila": "notebooks/dashboards/quiz.ipynb",
    }


def test_pyproject_urls_name_the_same_repository() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    github = [u for u in project.get("urls", {}).values() if "github.com/" in u]
    assert github, "pyproject.toml [project.urls] names no GitHub repository"
    for url in github:
        assert url.startswith(f"https://github.com/{_slug()}"), url
        assert url[len(f"https://github.com/{_slug()}") :] in ("", "/", "/issues"), url

"""What the package index shows: the distribution name, the Django versions, and a long
description whose every link resolves (setup.py makes README.md's relative links absolute)."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import authtools

from .conftest import REPO


def setup_module_() -> ModuleType:
    spec = importlib.util.spec_from_file_location("authtools_setup", REPO / "setup.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not __main__: setup() is not called
    return module


def test_distribution_name_and_django_versions() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^name = "(.+)"$', pyproject, re.M)[1] == authtools.DISTRIBUTION  # type: ignore[index]
    assert authtools.DISTRIBUTION == "django-user-model-doctor"
    assert '"django>=4.2,!=5.0.*,!=5.1.*,<6.2",' in pyproject
    classifiers = re.findall(r'"Framework :: Django :: ([\d.]+)"', pyproject)
    assert classifiers == ["4.2", "5.2", "6.0", "6.1"]
    assert "[project.scripts]" not in pyproject  # `authtools` is another project's name


def test_long_description_links_are_absolute_and_resolve() -> None:
    setup = setup_module_()
    text = setup.long_description()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links and all(link.startswith("https://") for link in links), links
    prefix = f"{setup.REPOSITORY}/blob/{setup.BRANCH}/"
    for link in links:
        if link.startswith(prefix):
            path, _, anchor = link[len(prefix) :].partition("#")
            assert (REPO / path).is_file(), link
            if anchor:  # a heading of README.md, as GitHub makes its anchors
                headings = re.findall(r"^#+ (.+)$", (REPO / path).read_text(), re.M)
                slugs = {
                    re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings
                }
                assert anchor in slugs, link
    assert set(setup.PROJECT_URLS.values()) >= {setup.REPOSITORY, f"{setup.REPOSITORY}/issues"}

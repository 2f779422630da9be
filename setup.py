"""Packaging metadata that needs a line of code; everything else is in pyproject.toml.

REPOSITORY is the one place the repository's address is written: the Project-URLs and the
long description (README.md with its relative links made absolute, so that they resolve on the
package index page) are built from it.
"""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = "https://github.com/django-user-model-doctor/django-user-model-doctor"
BRANCH = "main"

# ](target) where target is not already absolute: docs/x.md, CHANGELOG.md, #anchor.
_RELATIVE_LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]+)\)")


def absolute_link(target: str) -> str:
    if target.startswith("#"):
        return f"{REPOSITORY}/blob/{BRANCH}/README.md{target}"
    return f"{REPOSITORY}/blob/{BRANCH}/{target}"


def long_description(readme: Path = Path(__file__).parent / "README.md") -> str:
    text = readme.read_text(encoding="utf-8")
    return _RELATIVE_LINK.sub(lambda m: f"]({absolute_link(m.group(1))})", text)


PROJECT_URLS = {
    "Homepage": REPOSITORY,
    "Documentation": f"{REPOSITORY}/blob/{BRANCH}/README.md",
    "Changelog": f"{REPOSITORY}/blob/{BRANCH}/CHANGELOG.md",
    "Issues": f"{REPOSITORY}/issues",
    "Source": REPOSITORY,
}

if __name__ == "__main__":  # setuptools runs this file as __main__; tests import it
    from setuptools import setup

    setup(
        long_description=long_description(),
        long_description_content_type="text/markdown",
        project_urls=PROJECT_URLS,
    )

"""The project's own metadata, as the build tools read it."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


def test_the_license_is_an_spdx_expression() -> None:
    # The table form ({text = ...}) is deprecated by setuptools and warns on every build.
    project = tomllib.loads(PYPROJECT.read_text())
    assert project["project"]["license"] == "MIT"
    requires = project["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in requires), requires

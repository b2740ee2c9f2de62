"""`make lint` as part of the suite: ruff (lint and format) and mypy must be clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Linted once per `make test`, in its first pass.
pytestmark = [pytest.mark.no_graphql, pytest.mark.no_test_database]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "."],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_is_tidy(command: list[str]) -> None:
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr

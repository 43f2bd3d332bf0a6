"""The example configs stay valid: each loads with no error and no warning."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.config import Overrides, load_config

CONFIGS = sorted((Path(__file__).parent.parent / "examples" / "configs").glob("*.toml"))


@pytest.mark.parametrize("example", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_example_config_loads_without_warnings(example: Path, tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(example, home / "config.toml")

    config = load_config(Overrides(cwd=tmp_path), env={"CODEX_HOME": str(home), "HOME": str(tmp_path)})

    assert config.warnings == ()
    assert config.model


def test_there_are_example_configs():
    assert len(CONFIGS) >= 4

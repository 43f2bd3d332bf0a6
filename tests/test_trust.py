"""Folder trust in config.toml (agent/trust.py): Codex's `[projects."<dir>"] trust_level = "trusted"` entry,
appended with every other byte of the file kept, and never written where it would change anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import trust
from agent.config import Config, Overrides, load_config


def config_in(cwd: Path, codex_home: Path) -> Config:
    return load_config(Overrides(cwd=cwd), env={"CODEX_HOME": str(codex_home), "HOME": str(codex_home.parent)})


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    folder = tmp_path / "plain folder"
    folder.mkdir()
    return folder


def test_a_git_repository_needs_no_trust_and_a_plain_folder_does_until_trusted(git_repo: Path, plain: Path,
                                                                               codex_home: Path):
    assert not trust.must_ask(config_in(git_repo, codex_home))
    config = config_in(plain, codex_home)
    assert trust.must_ask(config) and not trust.is_trusted(config)
    assert trust.remember(config)
    assert trust.is_trusted(config) and not trust.must_ask(config)


def test_remember_appends_codex_entry_and_keeps_every_other_byte(plain: Path, codex_home: Path):
    before = ('# my settings\nmodel = "qwen"   # keep this comment\n\n[model_providers.x]\nname = "X"\n'
              'base_url = "http://127.0.0.1:9/v1"')  # no final newline
    (codex_home / "config.toml").write_text(before)
    assert trust.remember(config_in(plain, codex_home))
    after = (codex_home / "config.toml").read_text()
    assert after == before + f'\n\n[projects."{plain}"]\ntrust_level = "trusted"\n'


def test_a_folder_with_an_entry_and_a_file_that_is_not_toml_are_left_alone(plain: Path, codex_home: Path):
    file = codex_home / "config.toml"
    file.write_text(f'[projects."{plain}"]\ntrust_level = "untrusted"\n')
    assert not trust.remember(config_in(plain, codex_home))
    assert file.read_text() == f'[projects."{plain}"]\ntrust_level = "untrusted"\n'
    assert not trust.is_trusted(config_in(plain, codex_home))
    config = config_in(plain, codex_home)
    file.write_text("this is = = not toml\n")
    assert not trust.remember(config)
    assert file.read_text() == "this is = = not toml\n"


def test_an_inline_projects_table_is_refused_with_the_file_named_and_unchanged(plain: Path, codex_home: Path):
    file = codex_home / "config.toml"
    file.write_text('projects = { "/elsewhere" = { trust_level = "trusted" } }\n')
    config = config_in(plain, codex_home)
    with pytest.raises(trust.TrustNotRecorded, match=str(file)):
        trust.remember(config)
    assert file.read_text() == 'projects = { "/elsewhere" = { trust_level = "trusted" } }\n'

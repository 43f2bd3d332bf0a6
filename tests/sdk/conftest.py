"""OpenAI's real Codex TypeScript SDK, pinned, for the tests of this directory.

The set-up installs `@openai/codex-sdk@SDK_VERSION` with npm (no optional dependencies, so not OpenAI's own
binary) into ~/.cache/codex-local-tests/codex-sdk-<version> once; .ci/run does the same ahead of time. The
tests skip, saying why, where node or npm is missing or the install fails. `run_sdk` runs driver.mjs (the
SDK used as an app uses it) with `codexPathOverride` pointing at our installed `codex`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GIT_ENV, codex_command

SDK_VERSION = "0.163.0"
DRIVER = Path(__file__).with_name("driver.mjs")

RunSdk = Callable[..., list[dict[str, Any]]]


def sdk_prefix() -> Path:
    return Path.home() / ".cache" / "codex-local-tests" / f"codex-sdk-{SDK_VERSION}"


def _sdk_entry(prefix: Path) -> Path:
    return prefix / "node_modules" / "@openai" / "codex-sdk" / "dist" / "index.js"


@pytest.fixture(scope="session")
def codex_sdk() -> Path:
    """dist/index.js of the pinned SDK, installed on first use."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed (apt-get install nodejs npm); the Codex SDK tests need it")
    entry = _sdk_entry(sdk_prefix())
    if entry.is_file():
        return entry
    if shutil.which("npm") is None:
        pytest.skip(f"npm is not installed, so @openai/codex-sdk@{SDK_VERSION} cannot be installed into "
                    f"{sdk_prefix()} (apt-get install npm)")
    sdk_prefix().mkdir(parents=True, exist_ok=True)
    install = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "--omit=optional", "--prefix", str(sdk_prefix()),
         f"@openai/codex-sdk@{SDK_VERSION}"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    if install.returncode != 0 or not entry.is_file():
        pytest.skip(f"npm could not install @openai/codex-sdk@{SDK_VERSION} into {sdk_prefix()}: "
                    f"{install.stderr.strip()[-300:]}")
    return entry


@pytest.fixture
def run_sdk(codex_sdk: Path, codex_home: Path, tmp_path: Path) -> RunSdk:
    """Run driver.mjs with a plan; returns one result per step. `codex` options go to `new Codex(...)`."""
    codex = codex_command()
    if len(codex) != 1:
        pytest.skip("the `codex` command is not installed (pip install -e .), so the SDK has nothing to spawn")

    def run(steps: list[dict[str, Any]], codex_options: dict[str, Any] | None = None,
            env: dict[str, str] | None = None, timeout: float = 90) -> list[dict[str, Any]]:
        plan = {"sdk": str(codex_sdk), "codex": {"codexPathOverride": codex[0], **(codex_options or {})},
                "steps": steps}
        plan_file = tmp_path / "sdk-plan.json"
        plan_file.write_text(json.dumps(plan))
        full_env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "NO_COLOR": "1", **(env or {})}
        proc = subprocess.run(["node", str(DRIVER), str(plan_file)], env=full_env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
        return [json.loads(line) for line in proc.stdout.splitlines()]

    return run

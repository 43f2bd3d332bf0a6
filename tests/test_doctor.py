"""`codex doctor` as a user runs it: the real command against the scripted server over real HTTP (what it
reports, exit 0), against nothing (exit 1, one sentence with the URL and the fix), and for the embedded engine
with the shipped model. The real third-party servers' reports are in tests/real_servers/test_doctor.py."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCodex, write_provider_config
from tests.fakes.scripted_server import HttpError, Reply, ScriptedServer, ToolCall
from tests.servers.real_servers import free_port


def rows(stdout: str) -> dict[str, str]:
    return {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in stdout.splitlines() if ":" in line}


def test_doctor_reports_the_server_its_tools_and_the_settings(codex_home: Path, run_codex: RunCodex,
                                                              tmp_path: Path):
    probe_pair = [Reply(text="ok"), Reply(text="ok")]  # the scripted server counts no tool in its prompt usage
    stream_check = Reply(tool_calls=(ToolCall("get_weather", {"city": "Paris"}),))
    with ScriptedServer([*probe_pair, stream_check]) as server:
        write_provider_config(codex_home, server, extra="model_max_output_tokens = 512")
        run = run_codex(["doctor"], tmp_path)
        posts, url = [r for r in server.requests if r.method == "POST"], server.base_url
    assert run.returncode == 0, run.stdout + run.stderr
    report = rows(run.stdout)
    assert report["provider"] == f"scripted (Scripted) at {url}"
    assert report["server"].startswith("unknown")
    assert report["models listed"] == "scripted" and report["model"] == "scripted"
    assert report["tools"].startswith("text: the server drops `tools`")
    assert report["streaming with tools"] == "yes (the reply was a tool call)"
    assert report["settings"].startswith("wire_api chat · tool_call_format auto → native, but this server drops "
                                         'tools: set tool_call_format = "text" in [model_providers.scripted]')
    assert "output cap 512 tokens" in report["settings"]
    assert [bool(p.body.get("stream")) for p in posts] == [False, False, True]
    assert "tools" not in posts[0].body and posts[1].body["tools"][0]["function"]["name"] == "get_weather"


def test_doctor_says_when_the_server_rejects_tools_and_what_a_session_then_uses(codex_home: Path,
                                                                              run_codex: RunCodex, tmp_path: Path):
    steps = [Reply(text="ok"), HttpError(400, "model 'scripted' does not support tools"),
             HttpError(400, "model 'scripted' does not support tools")]
    with ScriptedServer(steps) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["doctor"], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    report = rows(run.stdout)
    assert report["tools"].startswith("text: the server rejected `tools`")
    assert report["streaming with tools"].startswith("fails (")
    assert "tool_call_format auto → text" in report["settings"]


def test_doctor_exits_1_with_the_url_and_the_fix_when_nothing_answers(codex_home: Path, run_codex: RunCodex,
                                                                      tmp_path: Path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    (codex_home / "config.toml").write_text(
        f'model = "m"\nmodel_provider = "mine"\n[model_providers.mine]\nname = "Mine"\nbase_url = "{url}"\n')
    run = run_codex(["doctor"], tmp_path)
    assert run.returncode == 1
    [error] = [line for line in run.stdout.splitlines() if line.startswith("error:")]
    assert url in error and "start the server or fix base_url in [model_providers.mine]" in error


def test_doctor_honours_oss_and_local_provider_like_exec(codex_home: Path, run_codex: RunCodex, tmp_path: Path):
    port = free_port()
    run = run_codex(["doctor", "--oss", "--local-provider", "ollama", "-m", "qwen2.5-coder:7b"], tmp_path,
                    env={"CODEX_OSS_PORT": str(port)})
    assert run.returncode == 1
    assert f"localhost:{port}" in run.stdout and "ollama serve" in run.stdout


def test_doctor_for_the_embedded_engine_names_the_model_file_its_window_and_threads(codex_home: Path,
                                                                                   run_codex: RunCodex,
                                                                                   tmp_path: Path):
    run = run_codex(["doctor", "-c", "model_providers.embedded.n_ctx=2048"], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    report = rows(run.stdout)
    assert report["provider"].startswith("embedded")
    assert report["model file"].endswith(".gguf (" + report["model file"].rsplit("(", 1)[1])
    assert "SmolLM2-135M-Instruct" in report["model file"] and "MB)" in report["model file"]
    assert report["window (n_ctx)"].startswith("2048 tokens")
    assert report["threads"].endswith("prompt")

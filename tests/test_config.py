"""Behaviour of agent.config: precedence, providers, flags, validation messages and unknown keys."""

import dataclasses
import textwrap
from pathlib import Path

import pytest

from agent.config import (
    Config,
    Overrides,
    ProviderInfo,
    codex_home,
    load_config,
    parse_override,
)
from agent.errors import ConfigError, UserError
from agent.protocol import APPROVAL_POLICIES, SANDBOX_MODES

SPEC_EXAMPLE = """\
model = "qwen2.5-coder:7b"
model_provider = "ollama"
oss_provider = "embedded"
approval_policy = "on-request"
sandbox_mode = "workspace-write"
model_context_window = 32768
model_max_output_tokens = 4096
model_auto_compact_token_limit = 29000
project_doc_max_bytes = 32768
max_turn_steps = 30

[sandbox_workspace_write]
writable_roots = ["/path/to/extra", "rel/dir"]
network_access = true
exclude_tmpdir_env_var = true
exclude_slash_tmp = true

[shell_environment_policy]
inherit = "core"
exclude = ["AWS_*"]
set = { CI = "1" }
include_only = ["PATH", "HOME"]

[model_providers.vllm]
name = "vLLM cluster"
base_url = "http://gpu-head.internal:8000/v1"
env_key = "VLLM_API_KEY"
wire_api = "responses"
query_params = { api-version = "2025-01-01" }
http_headers = { X-Team = "agents" }
env_http_headers = { X-Secret = "VLLM_SECRET" }
request_max_retries = 7
stream_idle_timeout_ms = 120000

[profiles.local]
model = "smollm2"
model_provider = "embedded"
approval_policy = "untrusted"

[history]
persistence = "none"

[models]
coder = "~/models/qwen2.5-coder-7b.gguf"
"""

REAL_CODEX_CONFIG = """\
model = "gpt-oss:20b"
model_provider = "ollama"
model_reasoning_effort = "high"
model_reasoning_summary = "concise"
hide_agent_reasoning = true
file_opener = "vscode"
notify = ["notify-send", "Codex"]
experimental_use_rmcp_client = true
modle = "typo"

[tui]
notifications = true

[features]
web_search_request = true

[mcp_servers.docs]
command = "npx"
args = ["-y", "mcp-server"]
env = { API_KEY = "x" }

[projects."/home/u/code"]
trust_level = "trusted"

[sandbox_workspace_write]
network_access = false
allow_everything = true
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home" / ".codex"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def env(tmp_path: Path, home: Path) -> dict[str, str]:
    return {"CODEX_HOME": str(home), "HOME": str(tmp_path / "home")}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def write_config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(env: dict[str, str], **flags: object) -> Config:
    return load_config(Overrides(**flags), env=env)  # type: ignore[arg-type]


def config_error(env: dict[str, str], **flags: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load(env, **flags)
    assert caught.value.exit_code == 2
    return str(caught.value)


# --- defaults and CODEX_HOME ---------------------------------------------------------------------------


def test_defaults_without_config_file(env: dict[str, str], home: Path, work: Path) -> None:
    config = load(env, cwd=work)
    assert config.codex_home == home
    assert config.config_file == home / "config.toml"
    assert config.cwd == work.resolve()
    assert config.model is None
    assert config.provider.id == "embedded"
    assert config.provider.base_url is None
    assert (config.approval_policy, config.sandbox_mode) == ("on-request", "read-only")
    assert config.project_doc_max_bytes == 32768
    assert config.max_turn_steps == 50
    assert config.history_persistence == "save-all"
    assert config.model_context_window is None
    assert config.profile is None and config.oss_provider is None
    assert config.shell_environment_policy.inherit == "all"
    assert dict(config.models) == {}
    assert config.warnings == ()


def test_missing_codex_home_directory_is_fine(tmp_path: Path) -> None:
    config = load({"CODEX_HOME": str(tmp_path / "nowhere"), "HOME": str(tmp_path)})
    assert config.codex_home == tmp_path / "nowhere"
    assert config.provider.id == "embedded"


def test_codex_home_defaults_to_dot_codex_under_home(tmp_path: Path) -> None:
    assert codex_home({"HOME": str(tmp_path)}) == tmp_path / ".codex"
    assert codex_home({"HOME": str(tmp_path), "CODEX_HOME": "~/elsewhere"}) == tmp_path / "elsewhere"


def test_config_is_frozen(env: dict[str, str]) -> None:
    config = load(env)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.providers["x"] = config.provider  # type: ignore[index]


# --- every key of the spec ----------------------------------------------------------------------------


def test_every_spec_key_is_read(env: dict[str, str], home: Path, work: Path, tmp_path: Path) -> None:
    write_config(home, SPEC_EXAMPLE)
    config = load(env, cwd=work)
    assert config.model == "qwen2.5-coder:7b"
    assert config.provider.id == "ollama"
    assert config.oss_provider == "embedded"
    assert (config.approval_policy, config.sandbox_mode) == ("on-request", "workspace-write")
    assert (config.model_context_window, config.model_max_output_tokens) == (32768, 4096)
    assert config.model_auto_compact_token_limit == 29000
    assert config.project_doc_max_bytes == 32768
    assert config.max_turn_steps == 30
    sww = config.sandbox_workspace_write
    assert sww.writable_roots == (Path("/path/to/extra"), (work / "rel/dir").resolve())
    assert sww.network_access and sww.exclude_tmpdir_env_var and sww.exclude_slash_tmp
    policy = config.shell_environment_policy
    assert policy.inherit == "core"
    assert policy.exclude == ("AWS_*",)
    assert dict(policy.set) == {"CI": "1"}
    assert policy.include_only == ("PATH", "HOME")
    assert config.history_persistence == "none"
    assert dict(config.models) == {"coder": "~/models/qwen2.5-coder-7b.gguf"}
    assert config.warnings == ()


def test_custom_provider_table_is_read_in_full(env: dict[str, str], home: Path) -> None:
    write_config(home, SPEC_EXAMPLE)
    vllm = load(env).providers["vllm"]
    assert vllm == ProviderInfo(
        id="vllm",
        name="vLLM cluster",
        base_url="http://gpu-head.internal:8000/v1",
        env_key="VLLM_API_KEY",
        wire_api="responses",
        query_params={"api-version": "2025-01-01"},
        http_headers={"X-Team": "agents"},
        env_http_headers={"X-Secret": "VLLM_SECRET"},
        request_max_retries=7,
        stream_idle_timeout_ms=120000,
    )
    assert not vllm.builtin


def test_provider_table_with_builtin_id_extends_the_builtin(env: dict[str, str], home: Path) -> None:
    write_config(home, """\
        model_provider = "embedded"
        [model_providers.embedded]
        n_ctx = 8192
        n_threads = 4
        [model_providers.ollama]
        base_url = "http://gpu:11434/v1"
        """)
    config = load(env)
    assert dict(config.provider.options) == {"n_ctx": 8192, "n_threads": 4}
    assert config.provider.name == "Embedded llama.cpp" and config.provider.builtin
    ollama = config.providers["ollama"]
    assert (ollama.name, ollama.base_url, ollama.builtin) == ("Ollama", "http://gpu:11434/v1", True)


def test_custom_provider_name_defaults_to_its_id(env: dict[str, str], home: Path) -> None:
    write_config(home, '[model_providers.box]\nbase_url = "http://box:8080/v1"\n')
    box = load(env).providers["box"]
    assert (box.name, box.wire_api, box.request_max_retries) == ("box", "chat", 4)


# --- profiles and precedence ---------------------------------------------------------------------------


def test_profile_selected_by_the_file_key(env: dict[str, str], home: Path) -> None:
    write_config(home, 'profile = "local"\n' + SPEC_EXAMPLE)
    config = load(env)
    assert config.profile == "local"
    assert (config.model, config.provider.id, config.approval_policy) == ("smollm2", "embedded", "untrusted")
    assert config.sandbox_mode == "workspace-write"  # not in the profile: the file's value stays


def test_dash_p_selects_a_profile_and_beats_the_file_key(env: dict[str, str], home: Path) -> None:
    write_config(home, """\
        profile = "a"
        [profiles.a]
        model = "from-a"
        [profiles.b]
        model = "from-b"
        """)
    assert load(env).model == "from-a"
    assert load(env, profile="b").model == "from-b"


def test_profile_tables_merge_key_by_key(env: dict[str, str], home: Path) -> None:
    write_config(home, """\
        [sandbox_workspace_write]
        network_access = true
        [profiles.p.sandbox_workspace_write]
        exclude_slash_tmp = true
        """)
    sww = load(env, profile="p").sandbox_workspace_write
    assert sww.network_access and sww.exclude_slash_tmp


def test_c_override_beats_the_profile(env: dict[str, str], home: Path) -> None:
    write_config(home, SPEC_EXAMPLE)
    config = load(env, profile="local", config_overrides=("model=from-c", "approval_policy=never"))
    assert (config.model, config.approval_policy) == ("from-c", "never")


def test_c_override_can_select_the_profile_and_edit_it(env: dict[str, str], home: Path) -> None:
    write_config(home, SPEC_EXAMPLE)
    config = load(env, config_overrides=("profile=local", "profiles.local.model=tiny"))
    assert (config.profile, config.model, config.provider.id) == ("local", "tiny", "embedded")


def test_later_c_override_beats_earlier(env: dict[str, str]) -> None:
    assert load(env, config_overrides=("model=a", "model=b")).model == "b"


def test_flags_beat_c_overrides(env: dict[str, str]) -> None:
    config = load(
        env,
        model="flag-model",
        sandbox_mode="danger-full-access",
        approval_policy="untrusted",
        config_overrides=("model=c-model", "sandbox_mode=read-only", "approval_policy=never"),
    )
    assert (config.model, config.sandbox_mode, config.approval_policy) == (
        "flag-model", "danger-full-access", "untrusted",
    )


def test_c_override_of_nested_key_merges_into_the_file_table(env: dict[str, str], home: Path) -> None:
    write_config(home, "[sandbox_workspace_write]\nexclude_slash_tmp = true\n")
    sww = load(env, config_overrides=("sandbox_workspace_write.network_access=true",)).sandbox_workspace_write
    assert sww.network_access and sww.exclude_slash_tmp


def test_c_override_can_define_a_provider(env: dict[str, str]) -> None:
    config = load(env, config_overrides=(
        'model_providers.box={ name = "Box", base_url = "http://box:1/v1" }', "model_provider=box",
    ))
    assert (config.provider.id, config.provider.name, config.provider.base_url) == ("box", "Box", "http://box:1/v1")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("model=qwen2.5-coder:7b", (["model"], "qwen2.5-coder:7b")),
        ('model="quoted"', (["model"], "quoted")),
        ("model_context_window=8192", (["model_context_window"], 8192)),
        ("x=1.5", (["x"], 1.5)),
        ("sandbox_workspace_write.network_access=true", (["sandbox_workspace_write", "network_access"], True)),
        ('a.b.c=["x", "y"]', (["a", "b", "c"], ["x", "y"])),
        ('shell_environment_policy.set={ CI = "1" }', (["shell_environment_policy", "set"], {"CI": "1"})),
        (" model = gpt-oss:20b ", (["model"], "gpt-oss:20b")),
        ("url=http://h:1/v1?a=b", (["url"], "http://h:1/v1?a=b")),
        ("empty=", (["empty"], "")),
    ],
)
def test_parse_override_reads_toml_values_else_strings(raw: str, expected: tuple[list[str], object]) -> None:
    assert parse_override(raw) == expected


@pytest.mark.parametrize("raw", ["model", "=x", "a..b=1", ".a=1"])
def test_parse_override_rejects_what_is_not_key_equals_value(raw: str) -> None:
    with pytest.raises(ConfigError, match=f"-c override '{raw}' is not key=value"):
        parse_override(raw)


def test_c_override_values_reach_the_config_typed(env: dict[str, str]) -> None:
    config = load(env, config_overrides=(
        "model=qwen2.5-coder:7b",
        "model_context_window=8192",
        "sandbox_workspace_write.network_access=true",
        'shell_environment_policy.exclude=["AWS_*", "GCP_*"]',
        'shell_environment_policy.set={ CI = "1" }',
    ))
    assert config.model == "qwen2.5-coder:7b"
    assert config.model_context_window == 8192
    assert config.sandbox_workspace_write.network_access is True
    assert config.shell_environment_policy.exclude == ("AWS_*", "GCP_*")
    assert dict(config.shell_environment_policy.set) == {"CI": "1"}


# --- providers and --oss -------------------------------------------------------------------------------


def test_builtin_providers_exist_without_config(env: dict[str, str]) -> None:
    providers = load(env).providers
    assert sorted(providers) == ["embedded", "lmstudio", "ollama", "openai"]
    assert providers["ollama"].base_url == "http://localhost:11434/v1"
    assert providers["lmstudio"].base_url == "http://localhost:1234/v1"
    assert providers["embedded"].base_url is None
    openai = providers["openai"]
    assert (openai.base_url, openai.env_key, openai.wire_api) == (
        "https://api.openai.com/v1", "OPENAI_API_KEY", "responses",
    )
    assert all(p.builtin for p in providers.values())


def test_codex_oss_port_moves_ollama(env: dict[str, str]) -> None:
    providers = load({**env, "CODEX_OSS_PORT": "11500"}).providers
    assert providers["ollama"].base_url == "http://localhost:11500/v1"


def test_codex_oss_base_url_wins_over_port(env: dict[str, str]) -> None:
    providers = load({**env, "CODEX_OSS_PORT": "11500", "CODEX_OSS_BASE_URL": "http://gpu:9/v1"}).providers
    assert providers["ollama"].base_url == "http://gpu:9/v1"


def test_bad_codex_oss_port_is_a_config_error(env: dict[str, str]) -> None:
    assert "CODEX_OSS_PORT='abc'" in config_error({**env, "CODEX_OSS_PORT": "abc"})


def test_oss_uses_local_provider_flag_first(env: dict[str, str], home: Path) -> None:
    write_config(home, 'oss_provider = "lmstudio"\n')
    config = load(env, oss=True, local_provider="ollama")
    assert config.provider.id == "ollama"
    assert config.model == "gpt-oss:20b"


def test_oss_uses_oss_provider_from_config_next(env: dict[str, str], home: Path) -> None:
    write_config(home, 'model_provider = "openai"\noss_provider = "lmstudio"\n')
    config = load(env, oss=True)
    assert (config.provider.id, config.model, config.oss_provider) == ("lmstudio", "openai/gpt-oss-20b", "lmstudio")


def test_oss_falls_back_to_embedded(env: dict[str, str], home: Path) -> None:
    write_config(home, 'model_provider = "openai"\n')
    config = load(env, oss=True)
    assert (config.provider.id, config.model) == ("embedded", None)


def test_without_oss_model_provider_selects_and_defaults_to_embedded(env: dict[str, str], home: Path) -> None:
    assert load(env).provider.id == "embedded"
    write_config(home, 'model_provider = "ollama"\noss_provider = "lmstudio"\n')
    assert load(env).provider.id == "ollama"


def test_configured_model_beats_the_provider_default(env: dict[str, str]) -> None:
    assert load(env, oss=True, local_provider="ollama", model="qwen3:8b").model == "qwen3:8b"


def test_unknown_local_provider_flag_is_a_config_error(env: dict[str, str], home: Path) -> None:
    message = config_error(env, oss=True, local_provider="nope")
    assert "--local-provider 'nope' names no provider" in message
    assert str(home / "config.toml") in message


# --- approval and sandbox flags ------------------------------------------------------------------------


def test_full_auto_means_workspace_write_and_on_request(env: dict[str, str], home: Path) -> None:
    write_config(home, 'approval_policy = "untrusted"\nsandbox_mode = "read-only"\n')
    config = load(env, full_auto=True)
    assert (config.sandbox_mode, config.approval_policy) == ("workspace-write", "on-request")


def test_sandbox_and_approval_flags_win_over_full_auto(env: dict[str, str]) -> None:
    config = load(env, full_auto=True, sandbox_mode="read-only", approval_policy="never")
    assert (config.sandbox_mode, config.approval_policy) == ("read-only", "never")


def test_dangerously_bypass_means_full_access_and_never(env: dict[str, str]) -> None:
    config = load(env, dangerously_bypass=True)
    assert (config.sandbox_mode, config.approval_policy) == ("danger-full-access", "never")


def test_full_auto_and_bypass_together_are_refused(env: dict[str, str]) -> None:
    assert "pass only one" in config_error(env, full_auto=True, dangerously_bypass=True)


def test_invalid_flag_values_list_the_allowed_ones(env: dict[str, str]) -> None:
    assert "-s/--sandbox 'rw' is not allowed; use one of: read-only" in config_error(env, sandbox_mode="rw")
    assert "untrusted, on-failure, on-request, never" in config_error(env, approval_policy="always")


@pytest.mark.parametrize(("sandbox", "approval"), zip(SANDBOX_MODES * 2, APPROVAL_POLICIES, strict=False))
def test_every_policy_name_of_the_protocol_is_accepted_in_the_file_and_as_a_flag(env: dict[str, str], home: Path,
                                                                               sandbox: str, approval: str) -> None:
    write_config(home, f'approval_policy = "{approval}"\nsandbox_mode = "{sandbox}"\n')
    assert (load(env).sandbox_mode, load(env).approval_policy) == (sandbox, approval)
    config = load(env, sandbox_mode=sandbox, approval_policy=approval)
    assert (config.sandbox_mode, config.approval_policy) == (sandbox, approval)


# --- cwd and writable roots ----------------------------------------------------------------------------


def test_cd_flag_sets_cwd_and_roots_resolve_against_it(env: dict[str, str], home: Path, work: Path) -> None:
    write_config(home, '[sandbox_workspace_write]\nwritable_roots = ["build", "~/cache"]\n')
    (work / "../shared").mkdir()
    (work / "build").mkdir()
    config = load(env, cwd=work, add_dirs=(Path("../shared"), Path("build")))
    assert config.cwd == work.resolve()
    assert config.additional_writable_roots == ((work / "../shared").resolve(), (work / "build").resolve())
    cache = (Path(env["HOME"]) / "cache").resolve()
    assert config.sandbox_workspace_write.writable_roots == ((work / "build").resolve(), cache)
    assert config.writable_roots() == (
        work.resolve(), (work / "../shared").resolve(), (work / "build").resolve(), cache,
    )


def test_cd_flag_to_a_missing_directory_is_a_config_error(env: dict[str, str], tmp_path: Path) -> None:
    message = config_error(env, cwd=tmp_path / "missing")
    assert "-C/--cd" in message and str(tmp_path / "missing") in message


def test_cwd_defaults_to_the_process_cwd(env: dict[str, str], work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    assert load(env).cwd == work.resolve()


# --- validation errors: file, line, key and fix -------------------------------------------------------


def test_malformed_toml_names_file_and_line(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'model = "x"\n\nsandbox_mode = \n')
    message = config_error(env)
    assert message.startswith(f"{path} line 3: invalid TOML (")
    assert message.endswith("fix the syntax or move the file aside")
    assert isinstance(ConfigError(message), UserError)


def test_malformed_toml_at_end_of_file_names_the_last_line(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'model = "x"\nroots = [1,\n')
    assert config_error(env).startswith(f"{path} line 2: invalid TOML (")


def test_unknown_provider_names_file_line_key_and_choices(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'model = "x"\nmodel_provider = "foo"\n')
    assert config_error(env) == (
        f"{path} line 2: model_provider = 'foo' names no provider; define [model_providers.foo] "
        "or use one of: embedded, lmstudio, ollama, openai"
    )


def test_unknown_oss_provider_is_a_config_error(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'oss_provider = "vllm"\n')
    assert config_error(env).startswith(f"{path} line 1: oss_provider = 'vllm' names no provider")


def test_invalid_sandbox_mode_lists_the_allowed_values(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'model = "x"\nsandbox_mode = "rw"\n')
    assert config_error(env) == (
        f"{path} line 2: sandbox_mode = 'rw' is not allowed; "
        "use one of: read-only, workspace-write, danger-full-access"
    )


def test_invalid_approval_policy_in_a_profile_points_into_the_profile(env: dict[str, str], home: Path) -> None:
    path = write_config(home, """\
        approval_policy = "never"
        [profiles.fast]
        model = "x"
        approval_policy = "sometimes"
        """)
    message = config_error(env, profile="fast")
    assert message.startswith(f"{path} line 4: profiles.fast.approval_policy = 'sometimes' is not allowed")
    assert "untrusted, on-failure, on-request, never" in message


def test_invalid_wire_api_points_to_the_line_inside_its_table(env: dict[str, str], home: Path) -> None:
    path = write_config(home, """\
        [model_providers.a]
        base_url = "http://a/v1"
        wire_api = "chat"
        [model_providers.b]
        base_url = "http://b/v1"
        wire_api = "grpc"
        """)
    assert config_error(env) == (
        f"{path} line 6: model_providers.b.wire_api = 'grpc' is not allowed; use one of: chat, responses"
    )


def test_wrong_value_type_names_the_key_and_an_example(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'model_context_window = "big"\n')
    assert config_error(env) == (
        f"{path} line 1: model_context_window = 'big' is not a whole number; "
        "write e.g. model_context_window = 32768"
    )


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("[sandbox_workspace_write]\nnetwork_access = \"yes\"\n", 2, "sandbox_workspace_write.network_access"),
        ("[sandbox_workspace_write]\nwritable_roots = \"/tmp\"\n", 2, "sandbox_workspace_write.writable_roots"),
        ("[shell_environment_policy]\nset = { CI = 1 }\n", 2, "shell_environment_policy.set"),
        ("[shell_environment_policy]\ninherit = \"some\"\n", 2, "shell_environment_policy.inherit"),
        ("[history]\npersistence = \"forever\"\n", 2, "history.persistence"),
        ("x = 1\nmax_turn_steps = 0\n", 2, "max_turn_steps"),
        ("model = 7\n", 1, "model"),
        ("sandbox_workspace_write = 3\n", 1, "sandbox_workspace_write"),
        ("[model_providers.a]\nbase_url = \"http://a\"\nrequest_max_retries = true\n", 3,
         "model_providers.a.request_max_retries"),
        ("models = { coder = 1 }\n", 1, "models"),
    ],
)
def test_wrong_values_of_known_keys_name_file_line_and_key(
    env: dict[str, str], home: Path, text: str, line: int, key: str
) -> None:
    path = write_config(home, text)
    assert config_error(env).startswith(f"{path} line {line}: {key} = ")


def test_provider_without_base_url_points_to_its_table(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'model = "x"\n\n[model_providers.mine]\nname = "Mine"\n')
    assert config_error(env) == (
        f"{path} line 3: [model_providers.mine] has no base_url; add base_url = \"http://host:port/v1\" to it"
    )


def test_error_from_a_c_override_names_the_override(env: dict[str, str]) -> None:
    assert config_error(env, config_overrides=("sandbox_mode=rw",)).startswith(
        "in -c override 'sandbox_mode=rw': sandbox_mode = 'rw' is not allowed"
    )
    assert config_error(env, config_overrides=("model_context_window=big",)).startswith(
        "in -c override 'model_context_window=big': model_context_window = 'big' is not a whole number"
    )


def test_unknown_profile_from_the_file_names_line_and_defined_profiles(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'profile = "fast"\n[profiles.a]\n[profiles.b]\n')
    assert config_error(env) == (
        f"{path} line 1: profile = 'fast' names no profile; define [profiles.fast] in {path} or create "
        f"{home / 'fast.config.toml'}, or use one of: a, b"
    )


def test_unknown_profile_from_dash_p_names_the_file(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'model = "x"\n')
    expected = (f"-p/--profile 'fast' names no profile; define [profiles.fast] in {path} or create "
                f"{home / 'fast.config.toml'}")
    assert config_error(env, profile="fast") == expected


def test_unknown_profile_without_a_config_file_says_the_file_is_missing(env: dict[str, str], home: Path) -> None:
    assert config_error(env, profile="fast") == (
        f"-p/--profile 'fast' names no profile; define [profiles.fast] in {home / 'config.toml'} or create "
        f"{home / 'fast.config.toml'}"
    )


# --- unknown keys --------------------------------------------------------------------------------------


def test_real_codex_config_loads_with_one_warning_per_unknown_key(env: dict[str, str], home: Path) -> None:
    path = write_config(home, REAL_CODEX_CONFIG)
    config = load(env)
    assert (config.model, config.provider.id) == ("gpt-oss:20b", "ollama")
    assert config.warnings == (
        f"{path} line 9: unknown key 'modle' is ignored; check its spelling or remove it",
        f"{path} line 27: unknown key 'sandbox_workspace_write.allow_everything' is ignored; "
        "check its spelling or remove it",
        f"{path}: these Codex settings have no effect in codex-local and are ignored: experimental_use_rmcp_client, "
        "features, file_opener, projects, tui (see docs/config.md for what each does here); remove them to silence "
        "this warning",
    )


def test_unknown_keys_from_profiles_and_overrides_warn_once(env: dict[str, str], home: Path) -> None:
    path = write_config(home, 'colour = "red"\n[profiles.p]\ncolour = "blue"\n')
    config = load(env, profile="p", config_overrides=("flavour.x=1", "flavour.y=2"))
    assert config.warnings == (
        f"{path} line 3: unknown key 'profiles.p.colour' is ignored; check its spelling or remove it",
        "in -c override 'flavour.x=1': unknown key 'flavour' is ignored; check its spelling or remove it",
    )


def test_codex_provider_and_mcp_keys_without_effect_are_named_in_the_warning(env: dict[str, str], home: Path) -> None:
    write_config(home, '[model_providers.gw]\nname = "gw"\nbase_url = "http://127.0.0.1:1/v1"\n'
                       'requires_openai_auth = true\nstream_max_retries = 3\n\n'
                       '[mcp_servers.docs]\ncommand = "docs-server"\nrequired = true\n')
    warnings = " ".join(load(env).warnings)
    for key in ("model_providers.gw.requires_openai_auth", "model_providers.gw.stream_max_retries",
                "mcp_servers.docs.required"):
        assert key in warnings

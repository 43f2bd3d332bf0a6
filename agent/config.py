"""Codex-compatible configuration: CODEX_HOME, config.toml, profiles, -c overrides and CLI flags.

`load_config` turns all of them into one frozen `Config`. Precedence, lowest first:

1. built-in defaults (including the built-in providers embedded, lmstudio, ollama, openai);
2. `$CODEX_HOME/config.toml` (a missing file or a missing CODEX_HOME is fine);
3. the selected profile, merged key by key over the file: the `[profiles.<name>]` table (Codex before 0.163)
   or, when there is no such table, the file `$CODEX_HOME/<name>.config.toml` (Codex 0.163's profile files);
4. `-c key.path=value` overrides, in order (the value is parsed as TOML, else taken as a string);
5. dedicated flags: -m, -s, -a, --full-auto, --dangerously-bypass-approvals-and-sandbox, --oss,
   --local-provider.

The profile is chosen by `-p` if given, else by the `profile` key after the -c overrides (so
`-c profile=fast` works). To make that possible the -c overrides are applied twice: once to the
file's own tables before the profile is read (so `-c profiles.fast.model=x` also works), and again
after the profile is merged (so a -c value beats the profile's value).

Every mistake is a `ConfigError` whose message names the file and line (or the -c override), the key
and the fix. Unknown keys are ignored with one warning each in `Config.warnings`; keys Codex defines that have
no effect here (its TUI, login and telemetry settings, feature flags) are named together in one warning, so a
real Codex config.toml loads and nothing in it is ignored without a word.

This module does not resolve model names to files, contact any provider, or read AGENTS.md.
"""

import copy
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, cast

from agent.errors import ConfigError
from agent.protocol import APPROVAL_POLICIES, SANDBOX_MODES, ApprovalPolicy, SandboxMode

WIRE_APIS = ("chat", "responses")
ENV_INHERIT = ("all", "core", "none")
HISTORY_PERSISTENCE = ("save-all", "none")
DEFAULT_PROVIDER = "embedded"
# Model used when none is configured, per provider id; absent means None (embedded: a later resolver
# picks the shipped default).
DEFAULT_MODELS: Mapping[str, str] = MappingProxyType(
    {"ollama": "gpt-oss:20b", "lmstudio": "openai/gpt-oss-20b"}
)


def _empty_map() -> Mapping[str, Any]:
    return MappingProxyType({})


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ProviderInfo:
    """One model provider: an OpenAI-compatible endpoint, or the in-process llama.cpp engine."""

    id: str
    name: str
    base_url: str | None  # None only for "embedded" (in-process llama.cpp)
    env_key: str | None = None  # environment variable holding the bearer token
    wire_api: str = "chat"
    query_params: Mapping[str, str] = field(default_factory=_empty_map)
    http_headers: Mapping[str, str] = field(default_factory=_empty_map)
    env_http_headers: Mapping[str, str] = field(default_factory=_empty_map)  # header -> env var
    request_max_retries: int = 4
    stream_idle_timeout_ms: int = 300_000
    options: Mapping[str, Any] = field(default_factory=_empty_map)  # every other key of the table
    builtin: bool = False
    wire_api_explicit: bool = field(default=False, compare=False)  # set in config: built-in ollama leaves native


@dataclass(frozen=True)
class SandboxWorkspaceWrite:
    """The `[sandbox_workspace_write]` table; writable_roots are resolved against cwd."""

    writable_roots: tuple[Path, ...] = ()
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False


@dataclass(frozen=True)
class ShellEnvironmentPolicy:
    """The `[shell_environment_policy]` table: which environment a spawned command gets.

    ignore_default_excludes is Codex's key: False means the default excludes (names containing KEY,
    SECRET or TOKEN) are dropped before `exclude` applies.
    """

    inherit: str = "all"  # all | core | none
    exclude: tuple[str, ...] = ()  # glob patterns on variable names
    set: Mapping[str, str] = field(default_factory=_empty_map)
    include_only: tuple[str, ...] = ()
    ignore_default_excludes: bool = False


@dataclass(frozen=True)
class McpServerConfig:
    """One `[mcp_servers.<name>]` table, as Codex documents it: a stdio server (`command`) or a streamable HTTP
    server (`url`). Environment variable names are kept as names; agent/mcp reads their values when it starts
    the server."""

    name: str
    command: str | None = None  # stdio
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=_empty_map)
    env_vars: tuple[str, ...] = ()  # more variables passed through from our environment
    cwd: Path | None = None
    url: str | None = None  # streamable HTTP
    bearer_token_env_var: str | None = None
    http_headers: Mapping[str, str] = field(default_factory=_empty_map)
    env_http_headers: Mapping[str, str] = field(default_factory=_empty_map)  # header -> env var
    startup_timeout_sec: float = 10.0
    tool_timeout_sec: float = 60.0
    enabled: bool = True
    enabled_tools: tuple[str, ...] | None = None  # None: every tool
    disabled_tools: tuple[str, ...] = ()

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "streamable_http"


@dataclass(frozen=True)
class Config:
    """Everything the agent needs to know from CODEX_HOME, config.toml, profiles, -c and flags."""

    codex_home: Path
    config_file: Path  # CODEX_HOME/config.toml (may not exist)
    cwd: Path  # resolved working directory (-C)
    model: str | None
    provider: ProviderInfo  # the selected provider
    providers: Mapping[str, ProviderInfo]  # built-ins + configured
    approval_policy: ApprovalPolicy = "on-request"
    sandbox_mode: SandboxMode = "read-only"
    sandbox_workspace_write: SandboxWorkspaceWrite = field(default_factory=SandboxWorkspaceWrite)
    additional_writable_roots: tuple[Path, ...] = ()  # --add-dir
    model_context_window: int | None = None
    model_max_output_tokens: int | None = None
    model_auto_compact_token_limit: int | None = None
    project_doc_max_bytes: int = 32768
    oss_provider: str | None = None
    profile: str | None = None
    shell_environment_policy: ShellEnvironmentPolicy = field(default_factory=ShellEnvironmentPolicy)
    history_persistence: str = "save-all"
    history_max_bytes: int | None = None  # [history] max_bytes: trim the oldest prompts beyond this size
    notify: tuple[str, ...] = ()  # argv run after each turn with Codex's agent-turn-complete JSON appended
    developer_instructions: str | None = None  # sent after the base instructions, as Codex's developer message
    project_doc_fallback_filenames: tuple[str, ...] = ()  # read where a directory has no AGENTS.md
    model_reasoning_effort: str | None = None  # sent only when set: reasoning.effort / reasoning_effort
    model_reasoning_summary: str | None = None  # sent only when set: reasoning.summary (responses wire)
    model_verbosity: str | None = None  # sent only when set: text.verbosity / verbosity
    tool_output_token_limit: int | None = None  # tool outputs kept in history are cut to about this many tokens
    hide_agent_reasoning: bool = False  # no reasoning items or deltas are emitted
    show_raw_agent_reasoning: bool | None = None  # False hides the raw reasoning local servers stream

    @property
    def shows_reasoning(self) -> bool:
        """Whether reasoning is shown: local servers stream only raw reasoning, so it shows unless
        hide_agent_reasoning is true or show_raw_agent_reasoning is explicitly false."""
        return not self.hide_agent_reasoning and self.show_raw_agent_reasoning is not False
    max_turn_steps: int = 50  # our extension: tool-call steps per turn before the model must answer
    models: Mapping[str, str] = field(default_factory=_empty_map)  # our extension: alias -> gguf path/name
    local_only: bool = False  # our extension: refuse providers whose host is not loopback/private
    local_only_allow_hosts: tuple[str, ...] = ()
    audit_enabled: bool = True  # [audit] enabled: the hash-chained audit log under CODEX_HOME/audit
    audit_include_content: bool = False  # [audit] include_content: prompts and request bodies, redacted
    audit_witness: str = "none"  # [audit] witness: "syslog" sends the chain's head to the system log each turn
    audit_syslog_socket: str = "/dev/log"  # [audit] syslog_socket: the unix socket the syslog witness writes to
    mcp_servers: Mapping[str, McpServerConfig] = field(default_factory=_empty_map)  # [mcp_servers.<name>]
    shell_snapshot: bool = True  # [features] shell_snapshot: run the login shell once, not once per `bash -lc`
    warnings: tuple[str, ...] = ()  # one sentence each, e.g. an unknown key
    # our extension: how tools reach an endpoint's model ("native" | "text" | "auto"); None: not set at the top
    # level (a provider's own tool_call_format, then agent/models/quirks.toml, decide; see agent/models/text_tools)
    tool_call_format: str | None = None

    def writable_roots(self) -> tuple[Path, ...]:
        """cwd, --add-dir and sandbox_workspace_write.writable_roots, resolved, de-duplicated; no temp dirs."""
        roots = (self.cwd, *self.additional_writable_roots, *self.sandbox_workspace_write.writable_roots)
        return tuple(dict.fromkeys(root.resolve() for root in roots))


@dataclass(frozen=True)
class Overrides:
    """What the CLI flags say; None (or False / empty) means the flag was not given."""

    model: str | None = None
    profile: str | None = None
    config_overrides: tuple[str, ...] = ()  # raw "-c key.path=value" strings, in order
    sandbox_mode: str | None = None
    approval_policy: str | None = None
    full_auto: bool = False  # sandbox workspace-write + approval on-request
    dangerously_bypass: bool = False  # danger-full-access + never
    oss: bool = False
    local_provider: str | None = None  # --local-provider; selects the provider even without --oss
    local_only: bool = False  # --local-only
    cwd: Path | None = None  # -C/--cd
    add_dirs: tuple[Path, ...] = ()


_NO_OVERRIDES = Overrides()

# Keys we read. Everything else at top level warns unless Codex defines it (_CODEX_KEYS).
_OUR_KEYS = frozenset({
    "model", "model_provider", "oss_provider", "approval_policy", "sandbox_mode", "model_context_window",
    "model_max_output_tokens", "model_auto_compact_token_limit", "project_doc_max_bytes", "profile",
    "profiles", "sandbox_workspace_write", "shell_environment_policy", "model_providers", "history",
    "max_turn_steps", "models", "local_only", "local_only_allow_hosts", "audit", "mcp_servers",
    "openai_base_url", "tool_call_format",
})
# Keys Codex defines that we accept without using them (plus anything named experimental_*).
_CODEX_KEYS = frozenset({
    "model_reasoning_effort", "model_reasoning_summary", "model_reasoning_summary_format", "model_verbosity",
    "model_supports_reasoning_summaries", "model_family", "review_model", "hide_agent_reasoning",
    "show_raw_agent_reasoning", "file_opener", "notify", "tui", "features", "projects",
    "tools", "tools_web_search_request", "tools_view_image", "web_search", "disable_response_storage",
    "preferred_auth_method", "forced_login_method", "forced_chatgpt_workspace_id", "trust_level",
    "chatgpt_base_url", "windows_wsl_setup_acknowledged", "windows", "instructions", "base_instructions",
    "developer_instructions", "user_instructions", "compact_prompt", "model_instructions_file",
    "project_doc_fallback_filenames", "include_apply_patch_tool", "include_plan_tool",
    "include_view_image_tool", "use_experimental_streamable_shell_tool", "cli_auth_credentials_store",
    "mcp_oauth_credentials_store", "otel", "notice", "sandbox", "ask_for_approval", "check_for_update_on_startup",
    "show_tooltips", "responses_originator_header_internal_override", "ghost_snapshot", "skills", "hooks",
    "zdr", "agents", "history_max_bytes", "approvals_reviewer",
})
# Codex keys we implement (they are also in _CODEX_KEYS, so the no-effect warning leaves them out).
_IMPLEMENTED_CODEX_KEYS = frozenset({
    "notify", "developer_instructions", "project_doc_fallback_filenames", "model_reasoning_effort",
    "model_reasoning_summary", "model_verbosity", "tool_output_token_limit", "hide_agent_reasoning",
    "show_raw_agent_reasoning",
})
# Codex keys that have no effect here, and are named in one startup warning when set.
_NO_EFFECT_CODEX_KEYS = frozenset({
    "disable_paste_burst", "model_catalog_json", "stream_max_retries", "tools_web_search",
}) | (_CODEX_KEYS - _IMPLEMENTED_CODEX_KEYS)
_NO_EFFECT_TABLE_KEYS: tuple[tuple[str, ...], ...] = (("shell_environment_policy", "experimental_use_profile"),)
# Keys of Codex's [model_providers.X] and [mcp_servers.X] tables that have no effect here (OpenAI sign-in,
# OAuth, a second retry budget for streams: cut streams share request_max_retries).
_NO_EFFECT_NESTED_KEYS: Mapping[str, frozenset[str]] = MappingProxyType({
    "model_providers": frozenset({"stream_max_retries", "requires_openai_auth", "env_key_instructions",
                                  "experimental_bearer_token"}),
    "mcp_servers": frozenset({"required", "scopes", "oauth_resource"}),
})
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
REASONING_SUMMARIES = ("auto", "concise", "detailed", "none")
VERBOSITIES = ("low", "medium", "high")
# Known keys of the known tables; other keys in them warn.
_TABLE_KEYS: Mapping[str, frozenset[str]] = MappingProxyType({
    "sandbox_workspace_write": frozenset(
        {"writable_roots", "network_access", "exclude_tmpdir_env_var", "exclude_slash_tmp"}
    ),
    "shell_environment_policy": frozenset(
        {"inherit", "ignore_default_excludes", "exclude", "set", "include_only", "experimental_use_profile"}
    ),
    "history": frozenset({"persistence", "max_bytes"}),
    "audit": frozenset({"enabled", "include_content", "witness", "syslog_socket"}),
})
# Keys of one [mcp_servers.<name>] table: ours, then Codex's that we accept without using (OAuth, required).
_MCP_SERVER_KEYS = frozenset({
    "command", "args", "env", "env_vars", "cwd", "url", "bearer_token_env_var", "http_headers", "env_http_headers",
    "startup_timeout_sec", "startup_timeout_ms", "tool_timeout_sec", "enabled", "enabled_tools", "disabled_tools",
    "bearer_token", "required", "scopes", "oauth_resource", "transport",
})
_PROVIDER_KEYS = frozenset({
    "name", "base_url", "env_key", "wire_api", "query_params", "http_headers", "env_http_headers",
    "request_max_retries", "stream_idle_timeout_ms",
})

KeyPath = tuple[str, ...]


# ---------------------------------------------------------------------------------------------------
# Public entry points


def codex_home(env: Mapping[str, str] = os.environ) -> Path:
    """CODEX_HOME if set (~ expanded, made absolute), else ~/.codex; the directory need not exist."""
    value = env.get("CODEX_HOME") or "~/.codex"
    return Path(os.path.abspath(_expand_user(value, env)))


def parse_override(raw: str) -> tuple[list[str], Any]:
    """"a.b.c=value" -> (["a", "b", "c"], value); the value is parsed as TOML, else kept as a string."""
    key, sep, value = raw.partition("=")
    parts = [part.strip() for part in key.split(".")]
    if not sep or not all(parts):
        raise ConfigError(
            f"-c override '{raw}' is not key=value; write it like -c model=qwen2.5-coder:7b "
            "or -c sandbox_workspace_write.network_access=true"
        )
    return parts, _parse_value(value.strip())


def load_config(overrides: Overrides = _NO_OVERRIDES, env: Mapping[str, str] = os.environ) -> Config:
    """Read CODEX_HOME/config.toml and apply profile, -c overrides and flags (see the module docstring)."""
    home = codex_home(env)
    file = home / "config.toml"
    text, data = _read_file(file)
    tree = _Tree(file, text, data)
    parsed = [_parsed_override(raw) for raw in overrides.config_overrides]
    _apply_overrides(tree, parsed)
    profile = _select_profile(tree, overrides.profile)
    if profile is not None:
        _merge_profile(tree, profile)
        _apply_overrides(tree, parsed)
    return _build(tree, overrides, env, home, profile)


# ---------------------------------------------------------------------------------------------------
# Where a value came from


@dataclass(frozen=True)
class _Where:
    """The origin of one value: a key path in the file, or a -c override."""

    file: Path
    text: str
    key_path: KeyPath
    override: str | None = None

    @property
    def key(self) -> str:
        return ".".join(self.key_path)

    def describe(self) -> str:
        if self.override is not None:
            return f"in -c override '{self.override}'"
        line = _line_of(self.text, self.key_path)
        return f"{self.file} line {line}" if line else str(self.file)


class _Tree:
    """The merged settings as a nested dict, plus the origin of every value that was layered on."""

    def __init__(self, file: Path, text: str, data: dict[str, Any]) -> None:
        self.file, self.text, self.data = file, text, data
        self.origins: dict[KeyPath, _Where] = {}
        self.warnings: list[str] = []

    def where(self, path: KeyPath) -> _Where:
        for n in range(len(path), 0, -1):
            origin = self.origins.get(path[:n])
            if origin is not None:
                return replace(origin, key_path=origin.key_path + path[n:])
        for known, origin in self.origins.items():  # a table that exists only through deeper keys
            if known[: len(path)] == path:
                return replace(origin, key_path=origin.key_path[: len(origin.key_path) - len(known) + len(path)])
        return _Where(self.file, self.text, path)

    def get(self, path: KeyPath) -> Any:
        node: Any = self.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def put(self, path: KeyPath, value: Any, origin: _Where) -> None:
        node = self.data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = value
        for known in [p for p in self.origins if p[: len(path)] == path]:
            del self.origins[known]
        self.origins[path] = origin

    def merge(self, src: Mapping[str, Any], origin_of: Callable[[KeyPath], _Where], prefix: KeyPath = ()) -> None:
        """Deep-merge src into the tree at prefix; tables merge key by key, anything else replaces."""
        for key, value in src.items():
            path = (*prefix, key)
            if isinstance(value, dict) and value:
                if not isinstance(self.get(path), dict):
                    self.put(path, {}, origin_of(path))
                self.merge(value, origin_of, path)
            else:
                self.put(path, copy.deepcopy(value), origin_of(path))


_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER_RE = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?")
_KEY_RE = re.compile(rf"^\s*({_DOTTED})\s*=")


def _split_key(dotted: str) -> KeyPath:
    return tuple(part.strip("\"'") for part in re.findall(_KEY_PART, dotted))


def _line_of(text: str, key_path: KeyPath) -> int | None:
    """1-based line defining key_path (or the closest enclosing table or key), found in the raw text."""
    best, best_len, table = None, 0, ()
    for number, line in enumerate(text.splitlines(), 1):
        if header := _HEADER_RE.match(line):
            table = defined = _split_key(header.group(1))
        elif key := _KEY_RE.match(line):
            defined = table + _split_key(key.group(1))
        else:
            continue
        if len(defined) > best_len and key_path[: len(defined)] == defined:
            best, best_len = number, len(defined)
    return best


# ---------------------------------------------------------------------------------------------------
# Reading the file and layering


def _read_file(file: Path) -> tuple[str, dict[str, Any]]:
    try:
        raw = file.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return "", {}
    except OSError as exc:
        raise ConfigError(f"{file} cannot be read ({exc.strerror}): fix its permissions or move it aside") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{file} is not UTF-8 text: save it as UTF-8 or move it aside") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error(file, text, exc)) from None


def _toml_error(file: Path, text: str, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    line = str(len(text.splitlines()) or 1)
    if at := re.search(r"\s*\(at line (\d+), column (\d+)\)$", message):
        line = at.group(1)
        message = f"{message[: at.start()]} at column {at.group(2)}"
    message = message.replace(" (at end of document)", " at end of file")
    detail = message[:1].lower() + message[1:]
    return f"{file} line {line}: invalid TOML ({detail}): fix the syntax or move the file aside"


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _parsed_override(raw: str) -> tuple[str, KeyPath, Any]:
    path, value = parse_override(raw)
    return raw, tuple(path), value


def _apply_overrides(tree: _Tree, parsed: Iterable[tuple[str, KeyPath, Any]]) -> None:
    for raw, path, value in parsed:
        tree.put(path, copy.deepcopy(value), _Where(tree.file, tree.text, path, override=raw))


def _select_profile(tree: _Tree, flag: str | None) -> str | None:
    name = flag if flag is not None else _str(tree, ("profile",))
    if name is None:
        return None
    profiles = _table(tree, ("profiles",))
    if name in profiles:
        _table(tree, ("profiles", name))
        return name
    file = _profile_file(tree, name)
    if file is not None and file.is_file():
        return name
    defined = f", or use one of: {', '.join(sorted(profiles))}" if profiles else ""
    shown = file if file is not None else f"$CODEX_HOME/{name}.config.toml"
    fix = f"define [profiles.{name}] in {tree.file} or create {shown}{defined}"
    if flag is not None:
        raise ConfigError(f"-p/--profile '{name}' names no profile; {fix}")
    where = tree.where(("profile",))
    raise ConfigError(f"{where.describe()}: profile = '{name}' names no profile; {fix}")


def _profile_file(tree: _Tree, name: str) -> Path | None:
    """Codex 0.163's profile file for name, `$CODEX_HOME/<name>.config.toml`; None for a name no file can have."""
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name):
        return None
    return tree.file.parent / f"{name}.config.toml"


def _merge_profile(tree: _Tree, name: str) -> None:
    prefix = ("profiles", name)
    if isinstance(tree.get(prefix), dict):
        table = dict(tree.get(prefix))

        def origin_of(path: KeyPath) -> _Where:
            return tree.where(prefix + path)
    else:  # a profile file: its values are layered over config.toml, and errors name the profile file
        file = _profile_file(tree, name)
        assert file is not None
        text, table = _read_file(file)
        prefix = ()

        def origin_of(path: KeyPath) -> _Where:
            return _Where(file, text, path)
    for key in ("profile", "profiles"):
        if table.pop(key, None) is not None:
            where = origin_of((key,)) if not prefix else tree.where((*prefix, key))
            tree.warnings.append(f"{where.describe()}: '{where.key}' cannot be set inside a profile and is ignored")
    tree.merge(table, origin_of)


# ---------------------------------------------------------------------------------------------------
# Typed readers: each returns the default when the key is absent and raises ConfigError when it is wrong


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _fail(tree: _Tree, path: KeyPath, problem: str, fix: str) -> NoReturn:
    where = tree.where(path)
    raise ConfigError(f"{where.describe()}: {where.key} = {_show(tree.get(path))} {problem}; {fix}")


def _wrong_type(tree: _Tree, path: KeyPath, expected: str, example: str) -> NoReturn:
    _fail(tree, path, f"is not {expected}", f"write e.g. {path[-1]} = {example}")


def _str(tree: _Tree, path: KeyPath, default: str | None = None) -> str | None:
    value = tree.get(path)
    if value is None:
        return default
    if not isinstance(value, str):
        _wrong_type(tree, path, "a string", '"text"')
    return value


def _choice(tree: _Tree, path: KeyPath, choices: tuple[str, ...], default: str) -> str:
    value = _str(tree, path, default)
    if value not in choices:
        _fail(tree, path, "is not allowed", f"use one of: {', '.join(choices)}")
    return value


def _optional_choice(tree: _Tree, path: KeyPath, choices: tuple[str, ...]) -> str | None:
    return _choice(tree, path, choices, choices[0]) if tree.get(path) is not None else None


def _int(tree: _Tree, path: KeyPath, default: int | None, minimum: int = 0, example: int = 4096) -> int | None:
    value = tree.get(path)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        _wrong_type(tree, path, "a whole number", str(example))
    if value < minimum:
        _fail(tree, path, f"is below {minimum}", f"use a number of at least {minimum}")
    return value


def _bool(tree: _Tree, path: KeyPath, default: bool = False) -> bool:
    value = tree.get(path)
    if value is None:
        return default
    if not isinstance(value, bool):
        _wrong_type(tree, path, "true or false", "true")
    return value


def _str_list(tree: _Tree, path: KeyPath) -> tuple[str, ...]:
    value = tree.get(path)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        _wrong_type(tree, path, "a list of strings", '["first", "second"]')
    return tuple(value)


def _str_map(tree: _Tree, path: KeyPath, default: Mapping[str, str] | None = None) -> Mapping[str, str]:
    value = tree.get(path)
    if value is None:
        return default if default is not None else _empty_map()
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        _wrong_type(tree, path, "a table of strings", '{ NAME = "value" }')
    return _frozen(value)


def _table(tree: _Tree, path: KeyPath) -> dict[str, Any]:
    value = tree.get(path)
    if value is None:
        return {}
    if not isinstance(value, dict):
        where = tree.where(path)
        raise ConfigError(
            f"{where.describe()}: {where.key} = {_show(value)} is not a table; write it as [{where.key}] "
            "with keys below it"
        )
    return value


# ---------------------------------------------------------------------------------------------------
# Building the Config


def _build(tree: _Tree, ov: Overrides, env: Mapping[str, str], home: Path, profile: str | None) -> Config:
    cwd = _resolve_cwd(ov.cwd, env)
    providers = _providers(tree, env)
    oss_provider = _provider_ref(tree, ("oss_provider",), providers)
    provider_id = _selected_provider(tree, ov, providers, oss_provider)
    sandbox_mode, approval_policy = _policies(tree, ov)
    model = ov.model if ov.model is not None else _str(tree, ("model",))
    return Config(
        codex_home=home,
        config_file=tree.file,
        cwd=cwd,
        model=model if model is not None else DEFAULT_MODELS.get(provider_id),
        provider=providers[provider_id],
        providers=_frozen(providers),
        approval_policy=approval_policy,
        sandbox_mode=sandbox_mode,
        sandbox_workspace_write=_sandbox_workspace_write(tree, cwd, env),
        additional_writable_roots=tuple(_add_dir(str(p), cwd, env) for p in ov.add_dirs),
        model_context_window=_int(tree, ("model_context_window",), None, minimum=1, example=32768),
        model_max_output_tokens=_int(tree, ("model_max_output_tokens",), None, minimum=1),
        model_auto_compact_token_limit=_int(tree, ("model_auto_compact_token_limit",), None, example=29000),
        project_doc_max_bytes=_int(tree, ("project_doc_max_bytes",), 32768, example=32768),
        oss_provider=oss_provider,
        profile=profile,
        shell_environment_policy=_shell_environment_policy(tree),
        history_persistence=_history_persistence(tree),
        history_max_bytes=_int(tree, ("history", "max_bytes"), None, example=5242880) or None,
        notify=_str_list(tree, ("notify",)),
        developer_instructions=_str(tree, ("developer_instructions",)) or None,
        project_doc_fallback_filenames=_str_list(tree, ("project_doc_fallback_filenames",)),
        model_reasoning_effort=_optional_choice(tree, ("model_reasoning_effort",), REASONING_EFFORTS),
        model_reasoning_summary=_optional_choice(tree, ("model_reasoning_summary",), REASONING_SUMMARIES),
        model_verbosity=_optional_choice(tree, ("model_verbosity",), VERBOSITIES),
        tool_output_token_limit=_int(tree, ("tool_output_token_limit",), None, minimum=1, example=2560),
        hide_agent_reasoning=_bool(tree, ("hide_agent_reasoning",)),
        show_raw_agent_reasoning=_bool(tree, ("show_raw_agent_reasoning",)) if tree.get(
            ("show_raw_agent_reasoning",)) is not None else None,
        max_turn_steps=_int(tree, ("max_turn_steps",), 50, minimum=1, example=50),
        models=_str_map(tree, ("models",)),
        local_only=ov.local_only or _bool(tree, ("local_only",)),
        local_only_allow_hosts=_str_list(tree, ("local_only_allow_hosts",)),
        audit_enabled=_bool(tree, ("audit", "enabled"), True),
        audit_include_content=_bool(tree, ("audit", "include_content")),
        audit_witness=_choice(tree, ("audit", "witness"), ("none", "syslog"), "none"),
        audit_syslog_socket=_expand_user(_str(tree, ("audit", "syslog_socket"), "/dev/log") or "/dev/log", env),
        mcp_servers=_mcp_servers(tree, cwd, env),
        shell_snapshot=_bool(tree, ("features", "shell_snapshot"), True),
        warnings=tuple(dict.fromkeys([*tree.warnings, *_unknown_key_warnings(tree), *_no_effect_warnings(tree)])),
        tool_call_format=_tool_call_format(tree, providers),
    )


# --- tool_call_format (our extension): top level and [model_providers.<id>] -----------------------------------

TOOL_CALL_FORMATS = ("native", "text", "auto")


def _tool_call_format(tree: _Tree, providers: Mapping[str, ProviderInfo]) -> str | None:
    """The top-level tool_call_format (None when unset), after checking every provider's own key too (that one
    stays in the provider's options, where agent/models/text_tools.py reads it)."""
    for provider_id in providers:
        _optional_choice(tree, ("model_providers", provider_id, "tool_call_format"), TOOL_CALL_FORMATS)
    return _optional_choice(tree, ("tool_call_format",), TOOL_CALL_FORMATS)


def _expand_user(value: str, env: Mapping[str, str]) -> str:
    if value == "~" or value.startswith("~/"):
        return (env.get("HOME") or str(Path.home())) + value[1:]
    return os.path.expanduser(value)


def _resolve_path(value: str, cwd: Path, env: Mapping[str, str]) -> Path:
    return (cwd / _expand_user(value, env)).resolve()


def _add_dir(value: str, cwd: Path, env: Mapping[str, str]) -> Path:
    """An --add-dir root: an existing directory, and neither / nor the home directory (every command could
    then write anything the user can, .bashrc and ~/.ssh included)."""
    path = _resolve_path(value, cwd, env)
    if not path.is_dir():
        raise ConfigError(f"--add-dir '{value}' is not an existing directory ({path}); create it or fix the path")
    home = _resolve_path("~", cwd, env)
    if path in (Path("/"), home):
        what = "the root directory" if path == Path("/") else f"your home directory ({home})"
        raise ConfigError(f"--add-dir '{value}' would let every command write {what}; add a project directory "
                          "instead, or use -s danger-full-access to run commands without a sandbox")
    return path


def _resolve_cwd(flag: Path | None, env: Mapping[str, str]) -> Path:
    if flag is None:
        return Path.cwd().resolve()
    cwd = _resolve_path(str(flag), Path.cwd(), env)
    if not cwd.is_dir():
        shown = f"'{flag}'" + (f" ({cwd})" if str(cwd) != str(flag) else "")
        raise ConfigError(f"-C/--cd {shown} is not an existing directory; pass a directory that exists")
    return cwd


def _ollama_base_url(env: Mapping[str, str]) -> str:
    if env.get("CODEX_OSS_BASE_URL"):
        return env["CODEX_OSS_BASE_URL"]
    port = env.get("CODEX_OSS_PORT")
    if not port:
        return "http://localhost:11434/v1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"CODEX_OSS_PORT='{port}' is not a port number; set it to e.g. 11434 or unset it")
    return f"http://localhost:{int(port)}/v1"


def _builtin_providers(env: Mapping[str, str]) -> dict[str, ProviderInfo]:
    return {
        "embedded": ProviderInfo("embedded", "Embedded llama.cpp", None, builtin=True),
        "lmstudio": ProviderInfo("lmstudio", "LM Studio", "http://localhost:1234/v1", builtin=True),
        "ollama": ProviderInfo("ollama", "Ollama", _ollama_base_url(env), builtin=True),
        "openai": ProviderInfo(
            "openai", "OpenAI", "https://api.openai.com/v1", env_key="OPENAI_API_KEY", wire_api="responses",
            builtin=True,
        ),
    }


def _providers(tree: _Tree, env: Mapping[str, str]) -> dict[str, ProviderInfo]:
    builtins = _builtin_providers(env)
    builtins["openai"] = _openai_provider(tree, builtins["openai"], env)
    providers = dict(builtins)
    for provider_id in _table(tree, ("model_providers",)):
        providers[provider_id] = _configured_provider(tree, provider_id, builtins.get(provider_id))
    return dict(sorted(providers.items()))


def _openai_provider(tree: _Tree, builtin: ProviderInfo, env: Mapping[str, str]) -> ProviderInfo:
    """The built-in `openai` provider as Codex configures it: `openai_base_url` (what the Codex SDK's `baseUrl`
    sets) moves it, and `$CODEX_API_KEY` (the SDK's `apiKey`), when set, is its key instead of $OPENAI_API_KEY."""
    base_url = _str(tree, ("openai_base_url",), builtin.base_url)
    env_key = "CODEX_API_KEY" if env.get("CODEX_API_KEY") else builtin.env_key
    return replace(builtin, base_url=base_url, env_key=env_key)


def _configured_provider(tree: _Tree, provider_id: str, base: ProviderInfo | None) -> ProviderInfo:
    path = ("model_providers", provider_id)
    table = _table(tree, path)
    if base is None:
        if "base_url" not in table:
            raise ConfigError(
                f"{tree.where(path).describe()}: [model_providers.{provider_id}] has no base_url; "
                'add base_url = "http://host:port/v1" to it'
            )
        base = ProviderInfo(id=provider_id, name=provider_id, base_url=None)

    def key(name: str) -> KeyPath:
        return (*path, name)

    return ProviderInfo(
        id=provider_id,
        name=_str(tree, key("name"), base.name) or base.name,
        base_url=_str(tree, key("base_url"), base.base_url),
        env_key=_str(tree, key("env_key"), base.env_key),
        wire_api=_choice(tree, key("wire_api"), WIRE_APIS, base.wire_api),
        query_params=_str_map(tree, key("query_params"), base.query_params),
        http_headers=_str_map(tree, key("http_headers"), base.http_headers),
        env_http_headers=_str_map(tree, key("env_http_headers"), base.env_http_headers),
        request_max_retries=_int(tree, key("request_max_retries"), base.request_max_retries, example=4),
        stream_idle_timeout_ms=_int(
            tree, key("stream_idle_timeout_ms"), base.stream_idle_timeout_ms, minimum=1, example=300000
        ),
        options=_frozen({**base.options, **{k: v for k, v in table.items() if k not in _PROVIDER_KEYS}}),
        builtin=base.builtin,
        wire_api_explicit="wire_api" in table or base.wire_api_explicit,
    )


def _provider_ref(tree: _Tree, path: KeyPath, providers: Mapping[str, ProviderInfo]) -> str | None:
    value = _str(tree, path)
    if value is not None and value not in providers:
        _fail(tree, path, "names no provider",
              f"define [model_providers.{value}] or use one of: {', '.join(sorted(providers))}")
    return value


def _selected_provider(
    tree: _Tree, ov: Overrides, providers: Mapping[str, ProviderInfo], oss_provider: str | None
) -> str:
    if ov.local_provider is not None:
        if ov.local_provider not in providers:
            raise ConfigError(
                f"--local-provider '{ov.local_provider}' names no provider; define "
                f"[model_providers.{ov.local_provider}] in {tree.file} or use one of: {', '.join(sorted(providers))}"
            )
        return ov.local_provider
    if ov.oss:
        return oss_provider or DEFAULT_PROVIDER
    if tree.get(("model_provider",)) is None and tree.get(("openai_base_url",)) is not None:
        return "openai"  # a gateway named by openai_base_url (the Codex SDK's baseUrl) is the one to use
    return _provider_ref(tree, ("model_provider",), providers) or DEFAULT_PROVIDER


def _flag_choice(flag: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    if value is not None and value not in choices:
        raise ConfigError(f"{flag} '{value}' is not allowed; use one of: {', '.join(choices)}")
    return value


def _policies(tree: _Tree, ov: Overrides) -> tuple[SandboxMode, ApprovalPolicy]:
    sandbox = _choice(tree, ("sandbox_mode",), SANDBOX_MODES, "read-only")
    approval = _choice(tree, ("approval_policy",), APPROVAL_POLICIES, "on-request")
    if ov.full_auto and ov.dangerously_bypass:
        raise ConfigError(
            "--full-auto and --dangerously-bypass-approvals-and-sandbox contradict each other; pass only one"
        )
    if ov.full_auto:
        sandbox, approval = "workspace-write", "on-request"
    if ov.dangerously_bypass:
        sandbox, approval = "danger-full-access", "never"
    sandbox = _flag_choice("-s/--sandbox", ov.sandbox_mode, SANDBOX_MODES) or sandbox
    approval = _flag_choice("-a/--ask-for-approval", ov.approval_policy, APPROVAL_POLICIES) or approval
    return cast(SandboxMode, sandbox), cast(ApprovalPolicy, approval)  # each checked against its choices above


def _sandbox_workspace_write(tree: _Tree, cwd: Path, env: Mapping[str, str]) -> SandboxWorkspaceWrite:
    path = ("sandbox_workspace_write",)
    _table(tree, path)
    return SandboxWorkspaceWrite(
        writable_roots=tuple(_resolve_path(p, cwd, env) for p in _str_list(tree, (*path, "writable_roots"))),
        network_access=_bool(tree, (*path, "network_access")),
        exclude_tmpdir_env_var=_bool(tree, (*path, "exclude_tmpdir_env_var")),
        exclude_slash_tmp=_bool(tree, (*path, "exclude_slash_tmp")),
    )


def _shell_environment_policy(tree: _Tree) -> ShellEnvironmentPolicy:
    path = ("shell_environment_policy",)
    _table(tree, path)
    return ShellEnvironmentPolicy(
        inherit=_choice(tree, (*path, "inherit"), ENV_INHERIT, "all"),
        exclude=_str_list(tree, (*path, "exclude")),
        set=_str_map(tree, (*path, "set")),
        include_only=_str_list(tree, (*path, "include_only")),
        ignore_default_excludes=_bool(tree, (*path, "ignore_default_excludes")),
    )


def _history_persistence(tree: _Tree) -> str:
    _table(tree, ("history",))
    return _choice(tree, ("history", "persistence"), HISTORY_PERSISTENCE, "save-all")


def _mcp_servers(tree: _Tree, cwd: Path, env: Mapping[str, str]) -> Mapping[str, McpServerConfig]:
    return _frozen({name: _mcp_server(tree, name, cwd, env) for name in _table(tree, ("mcp_servers",))})


def _mcp_server(tree: _Tree, name: str, cwd: Path, env: Mapping[str, str]) -> McpServerConfig:
    path = ("mcp_servers", name)
    _table(tree, path)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"{tree.where(path).describe()}: the MCP server name {name!r} may hold only letters, "
                          "digits, _ and -; rename the table, e.g. [mcp_servers.docs]")
    command, url = _str(tree, (*path, "command")), _str(tree, (*path, "url"))
    if (command is None) == (url is None):
        problem = "has both command and url" if command else "has neither command nor url"
        raise ConfigError(f"{tree.where(path).describe()}: [mcp_servers.{name}] {problem}; give command = \"…\" "
                          "for a server started here (stdio) or url = \"http://…/mcp\" for a streamable HTTP one")
    cwd_value = _str(tree, (*path, "cwd"))
    timeout_ms = tree.get((*path, "startup_timeout_ms"))
    startup = _seconds(tree, (*path, "startup_timeout_sec"), 10.0)
    if timeout_ms is not None and tree.get((*path, "startup_timeout_sec")) is None:
        startup = _seconds(tree, (*path, "startup_timeout_ms"), 10000.0) / 1000
    enabled_tools = tree.get((*path, "enabled_tools"))
    return McpServerConfig(
        name=name,
        command=command,
        args=_str_list(tree, (*path, "args")),
        env=_str_map(tree, (*path, "env")),
        env_vars=_str_list(tree, (*path, "env_vars")),
        cwd=_resolve_path(cwd_value, cwd, env) if cwd_value is not None else None,
        url=url,
        bearer_token_env_var=_str(tree, (*path, "bearer_token_env_var")),
        http_headers=_str_map(tree, (*path, "http_headers")),
        env_http_headers=_str_map(tree, (*path, "env_http_headers")),
        startup_timeout_sec=startup,
        tool_timeout_sec=_seconds(tree, (*path, "tool_timeout_sec"), 60.0),
        enabled=_bool(tree, (*path, "enabled"), True),
        enabled_tools=_str_list(tree, (*path, "enabled_tools")) if enabled_tools is not None else None,
        disabled_tools=_str_list(tree, (*path, "disabled_tools")),
    )


def _seconds(tree: _Tree, path: KeyPath, default: float) -> float:
    value = tree.get(path)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        _fail(tree, path, "is not a positive number of seconds", f"write e.g. {path[-1]} = 30")
    return float(value)


def _is_known(key: str) -> bool:
    return (key in _OUR_KEYS or key in _CODEX_KEYS or key in _NO_EFFECT_CODEX_KEYS or key in _IMPLEMENTED_CODEX_KEYS
            or key.startswith("experimental_"))


def _unknown_key_warnings(tree: _Tree) -> list[str]:
    paths = [(key,) for key in tree.data if not _is_known(key)]
    for table, known in _TABLE_KEYS.items():
        value = tree.get((table,))
        if isinstance(value, dict):
            paths += [(table, key) for key in value if key not in known]
    servers = tree.get(("mcp_servers",))
    for name, table in (servers.items() if isinstance(servers, dict) else ()):
        if isinstance(table, dict):
            paths += [("mcp_servers", name, key) for key in table if key not in _MCP_SERVER_KEYS]
    warnings = []
    for path in paths:
        where = tree.where(path)
        warnings.append(f"{where.describe()}: unknown key '{where.key}' is ignored; check its spelling or remove it")
    return warnings


def _no_effect_warnings(tree: _Tree) -> list[str]:
    """One sentence naming every key Codex defines that is set but has no effect here; [] when there is none."""
    keys = [key for key in tree.data if key in _NO_EFFECT_CODEX_KEYS or key.startswith("experimental_")]
    features = tree.get(("features",))
    if isinstance(features, dict) and set(features) <= {"shell_snapshot"}:  # the one feature flag implemented here
        keys = [key for key in keys if key != "features"]
    keys += [".".join(path) for path in _NO_EFFECT_TABLE_KEYS if tree.get(path) is not None]
    keys += [f"{table}.{name}.{key}" for table, keys_here in _NO_EFFECT_NESTED_KEYS.items()
             for name, value in (tree.get((table,)) or {}).items() if isinstance(value, dict)
             for key in value if key in keys_here]
    if not keys:
        return []
    shown = ", ".join(sorted(keys))
    return [f"{tree.file}: these Codex settings have no effect in codex-local and are ignored: {shown} (see "
            "docs/config.md for what each does here); remove them to silence this warning"]

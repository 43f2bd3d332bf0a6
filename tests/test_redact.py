"""Secret redaction: every key format, environment values, and ordinary text left alone.

Fake keys are built at run time from random characters so that this file holds no realistic secret literal
(secret scanners would flag it, and rightly).
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass

import pytest

from agent.config import Overrides, load_config
from agent.redact import REDACTED, Redactor

_RNG = random.Random(20261101)
ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "-_"


def rand(n: int, alphabet: str = ALNUM) -> str:
    """n random characters of `alphabet`, holding a digit and (when the alphabet has any) a letter, as real keys do."""
    letters = [c for c in alphabet if c.isalpha()] or list(string.digits)
    body = "".join(_RNG.choice(alphabet) for _ in range(n - 2))
    return body + _RNG.choice(letters) + _RNG.choice(string.digits)


def fake_keys() -> dict[str, str]:
    """kind -> a fake key of that format."""
    return {
        "openai": "sk" + "-" + rand(48),
        "openai-project": "sk" + "-proj-" + rand(40) + "_" + rand(40),
        "anthropic": "sk" + "-ant-" + "api03-" + rand(80, URLSAFE),
        "aws-access-key-id": "AK" + "IA" + rand(16, UPPER_DIGITS),
        "aws-session-key-id": "AS" + "IA" + rand(16, UPPER_DIGITS),
        "github": "gh" + "p_" + rand(36),
        "github-app": "gh" + "s_" + rand(36),
        "github-oauth": "gh" + "o_" + rand(36),
        "github-user": "gh" + "u_" + rand(36),
        "github-pat": "github" + "_pat_" + rand(22) + "_" + rand(59),
        "slack": "xo" + "xb-" + rand(12, string.digits) + "-" + rand(13, string.digits) + "-" + rand(24),
        "google-api-key": "AI" + "za" + rand(35, URLSAFE),
        "stripe": "sk" + "_live_" + rand(24),
        "stripe-restricted": "rk" + "_live_" + rand(24),
        "jwt": "ey" + "J" + rand(20, URLSAFE) + ".ey" + "J" + rand(40, URLSAFE) + "." + rand(43, URLSAFE),
    }


KEYS = fake_keys()


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_each_key_format_is_redacted_wherever_it_appears(kind: str) -> None:
    key = KEYS[kind]
    redactor = Redactor()
    for text in (key, f"export SOME_VAR={key}", f'{{"headers": {{"x-key": "{key}"}}}}', f"curl -u {key}: https://x"):
        out = redactor.text(text)
        assert key not in out, (kind, text, out)
        assert "[REDACTED" in out


def test_pattern_markers_name_the_kind() -> None:
    redactor = Redactor()
    assert redactor.text(KEYS["openai"]) == "[REDACTED:openai]"
    assert redactor.text(KEYS["anthropic"]) == "[REDACTED:anthropic]"
    assert redactor.text(KEYS["aws-access-key-id"]) == "[REDACTED:aws-access-key-id]"
    assert redactor.text(KEYS["jwt"]) == "[REDACTED:jwt]"


def test_aws_secret_access_key_assignment_keeps_the_name_and_hides_the_value() -> None:
    secret = rand(40, ALNUM + "/+")
    redactor = Redactor()
    for text in (f"aws_secret_access_key = {secret}", f"AWS_SECRET_ACCESS_KEY={secret}",
                 f'"SecretAccessKey": "{secret}"'):
        out = redactor.text(text)
        assert secret not in out
        assert "[REDACTED:aws-secret-access-key]" in out
        assert out.lower().startswith(("aws_secret_access_key", '"secretaccesskey"'))


def test_private_key_pem_block_is_redacted_whole_even_when_cut_short() -> None:
    body = "\n".join(rand(64, ALNUM + "+/") for _ in range(5))
    begin, end = "-----BEGIN " + "RSA PRIVATE KEY-----", "-----END " + "RSA PRIVATE KEY-----"
    redactor = Redactor()
    out = redactor.text(f"before\n{begin}\n{body}\n{end}\nafter")
    assert out == "before\n[REDACTED:private-key]\nafter"
    cut = redactor.text(f"$ cat id_ed25519\n{begin.replace('RSA', 'OPENSSH')}\n{body[:100]}")
    assert cut == "$ cat id_ed25519\n[REDACTED:private-key]"
    assert "BEGIN PUBLIC KEY" in redactor.text("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----")


def test_bearer_tokens_in_headers_are_redacted_but_variable_references_are_kept() -> None:
    token = rand(32, ALNUM + "._-")
    redactor = Redactor()
    assert redactor.text(f"Authorization: Bearer {token}") == "Authorization: Bearer [REDACTED:bearer]"
    assert token not in redactor.text(f"curl -H 'authorization: bearer {token}' https://api.example.com")
    assert token not in redactor.text(f'{{"Authorization": "Bearer {token}"}}')
    assert token not in redactor.text(f"Bearer {token}")
    assert redactor.text('curl -H "Authorization: Bearer $OPENAI_API_KEY"') == \
        'curl -H "Authorization: Bearer $OPENAI_API_KEY"'
    assert redactor.text("the bearer of bad news") == "the bearer of bad news"


def test_escaped_quotes_around_a_bearer_token_survive_so_json_text_stays_valid() -> None:
    token = rand(32)
    arguments = json.dumps({"command": ["bash", "-lc", f'curl -H "Authorization: Bearer {token}" x']})
    out = Redactor().text(arguments)
    assert token not in out
    assert json.loads(out)["command"][2] == 'curl -H "Authorization: Bearer [REDACTED:bearer]" x'


@pytest.mark.parametrize("template", [
    "password={v}", "--password={v}", "DB_PASSWORD={v}", "api_key={v}", "API_KEY: {v}", "secret={v}",
    'password = "{v}"', "client_secret: '{v}'", '{{"access_token": "{v}"}}', "https://x.test/?api_key={v}&page=2",
    "GITHUB_TOKEN={v}", "export HF_TOKEN={v}", "userPassword={v}", '{{\\"password\\": \\"{v}\\"}}',
])
def test_generic_secret_assignments_hide_the_value_only(template: str) -> None:
    value = "hunter" + rand(6)
    out = Redactor().text(template.format(v=value))
    assert value not in out
    assert "[REDACTED:secret]" in out
    assert out.replace("[REDACTED:secret]", "") == template.format(v="")


def test_a_quoted_secret_holding_an_escaped_quote_is_hidden_whole() -> None:
    value = "hunter" + rand(6)
    assert Redactor().text(f'{{"password": "a\\"{value}", "n": 1}}') == '{"password": "[REDACTED:secret]", "n": 1}'


def test_pathological_input_is_redacted_in_linear_time() -> None:
    import time

    redactor = Redactor(["exact" + rand(12)])
    texts = ["password " + "a_" * 100_000 + "=x", "http:// " + "a." * 100_000, "sk-" * 60_000, "eyJ" * 60_000,
             "Authorization: " * 20_000, "-----BEGIN PRIVATE KEY-----" * 5_000]
    start = time.perf_counter()
    for text in texts:
        redactor.text(text)
    assert time.perf_counter() - start < 2


def test_passwords_in_urls_are_redacted() -> None:
    password = rand(12)
    out = Redactor().text(f"git clone https://bob:{password}@git.example.com/repo.git")
    assert out == "git clone https://bob:[REDACTED:url-password]@git.example.com/repo.git"


@pytest.mark.parametrize("text", [
    "commit 3f786850e387550fdab836ed7e6dc881de23001b (HEAD -> main)",
    "request 123e4567-e89b-12d3-a456-426614174000 finished",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "aGVsbG8gd29ybGQsIHRoaXMgaXMganVzdCBiYXNlNjQgb2Ygb3JkaW5hcnkgdGV4dA==",
    "def login(password: str, api_key: Optional[str] = None) -> bool:",
    "    password = get_password()\n    api_key = self.api_key\n    token = tokens[0]",
    "client(api_key=api_key, password=password, timeout=30)",
    "if password == expected:\n    return secret is None",
    "generate(max_tokens=100, eos_token='</s>', pad_token=tokenizer.eos_token)",
    "secret=None api_key=null password: true",
    "Enter the password: please type it twice",
    "the task-management-system-for-small-teams uses scikit-learn",
    "PWD=/home/user/project OLDPWD=/tmp",
    "http://localhost:11434/v1 and git@github.com:openai/codex.git",
    "Bearer tokens go in the Authorization header",
])
def test_ordinary_code_and_text_is_left_alone(text: str) -> None:
    assert Redactor(["not-in-this-text"]).text(text) == text


def test_exact_values_are_redacted_and_values_shorter_than_8_characters_are_ignored() -> None:
    long_value, short_value = "v" + rand(20), "abc1234"
    redactor = Redactor([long_value, short_value, ""])
    out = redactor.text(f"{long_value} {short_value} {long_value}x")
    assert out == f"{REDACTED} {short_value} {REDACTED}x"
    assert redactor.secret_count == 1


def test_a_longer_value_wins_over_a_value_it_contains() -> None:
    inner = "inner" + rand(10)
    outer = "pre" + inner + "post"
    assert Redactor([inner, outer]).text(f"[{outer}] [{inner}]") == f"[{REDACTED}] [{REDACTED}]"


def test_a_value_with_quotes_is_also_found_json_escaped() -> None:
    value = 'pa"ss\\' + rand(12)
    out = Redactor([value]).text(json.dumps({"arg": value}))
    assert value not in out and json.dumps(value)[1:-1] not in out
    assert json.loads(out) == {"arg": REDACTED}


def test_redaction_is_idempotent() -> None:
    redactor = Redactor(["exact" + rand(10)])
    text = " ".join(KEYS.values()) + " password=hunter" + rand(5) + " Authorization: Bearer " + rand(30)
    once = redactor.text(text)
    assert redactor.text(once) == once


def test_from_config_hides_env_key_header_and_secret_named_variables(tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[model_providers.corp]\nbase_url = "https://llm.corp.example/v1"\nenv_key = "CORP_LLM"\n'
        'env_http_headers = { "X-Org" = "CORP_ORG_HEADER" }\n'
    )
    values = {name: "val-" + rand(16) for name in
              ("CORP_LLM", "CORP_ORG_HEADER", "OPENAI_API_KEY", "MY_SERVICE_SECRET", "DB_PASSWORD", "HF_TOKEN")}
    plain = {"EDITOR_THEME": "solarized-" + rand(10), "SSH_KEY_PATH": "/home/me/.ssh/" + rand(10)}
    env = {"CODEX_HOME": str(home), "HOME": str(tmp_path), **values, **plain, "SHORT_TOKEN": "abc"}
    config = load_config(Overrides(), env=env)
    redactor = Redactor.from_config(config, env=env)
    for name, value in values.items():
        assert redactor.text(f"{name}={value}").endswith(REDACTED), name
    for value in plain.values():
        assert redactor.text(value) == value
    assert redactor.text("abc") == "abc"
    assert redactor.secret_count == len(values)


@dataclass(frozen=True)
class _Request:
    model: str
    messages: tuple[dict[str, str], ...]


def test_value_redacts_every_string_in_nested_data_and_returns_a_copy() -> None:
    secret = "exact" + rand(12)
    redactor = Redactor([secret])
    original = {
        "messages": [{"role": "user", "content": f"use {secret}"}],
        "tools": (f"x {KEYS['github']}", 3, None, True),
        "request": _Request("m", ({"content": KEYS["openai"]},)),
        secret: "a key that is itself secret",
        "password": "plain-" + rand(6),
        "max_tokens": 5,
        "token": "hello",
    }
    out = redactor.value(original)
    dumped = json.dumps({k: v for k, v in out.items() if k != "request"}) + repr(out["request"])
    assert secret not in dumped and KEYS["github"] not in dumped and KEYS["openai"] not in dumped
    assert out["password"] == "[REDACTED:secret]"
    assert out["max_tokens"] == 5 and out["token"] == "hello" and out["tools"][1:] == (3, None, True)
    assert isinstance(out["request"], _Request) and out["request"].model == "m"
    assert original["messages"][0]["content"] == f"use {secret}"  # the input is untouched
    assert original["request"].messages[0]["content"] == KEYS["openai"]

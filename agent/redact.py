"""Hiding secrets in text before it is written anywhere or sent to a model.

A `Redactor` replaces two kinds of secret:

1. exact values it was given: the values of every provider's `env_key` and `env_http_headers` variables and of
   environment variables whose name looks secret (`*KEY*`, `*SECRET*`, `*TOKEN*`, `*PASSWORD*`, ...); each becomes
   `[REDACTED]`. Values shorter than 8 characters are ignored: replacing "1234" everywhere would mangle ordinary
   text and hide nothing worth hiding.
2. well-known key formats, wherever they appear; each becomes `[REDACTED:<kind>]`: OpenAI and Anthropic keys,
   AWS access key ids and secret-key assignments, GitHub, Slack, Google and Stripe tokens, PEM private keys,
   JWTs, bearer tokens, passwords in URLs, and the values of `password=` / `api_key=` / `secret=`-style
   assignments (in code, .env files, YAML, JSON, query strings and command lines).

The patterns are deliberately narrow: git SHAs, UUIDs, hashes, base64 of ordinary data and code such as
`password=get_password()` or `api_key: str` are left alone. A redactor is a plain value (no state changes after
construction), safe to share between threads.

This module does not decide what is written where (the audit log, rollouts and model clients call it), and it
cannot find a secret that has no recognisable shape and is not in the environment.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8

# Environment variable names whose values are secrets (matched case-insensitively, anywhere in the name).
_SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL", re.IGNORECASE)
# ...except names that hold a location rather than the secret itself.
_LOCATION_NAME = re.compile(r"_(FILE|PATH|DIR|HOME)$", re.IGNORECASE)


def _kind(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def _token_with_digit_and_letter(chars: str, minimum: int) -> str:
    """A run of `chars` at least `minimum` long holding a digit and a letter (real keys do; words do not)."""
    return rf"(?=[{chars}]*[0-9])(?=[{chars}]*[A-Za-z])[{chars}]{{{minimum},}}+"


# (kind, pattern, replacement). A replacement string may use groups to keep a name and hide only the value.
_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (kind, re.compile(pattern, flags), replacement)
    for kind, pattern, flags, replacement in (
        (
            "private-key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
            re.DOTALL,
            _kind("private-key"),
        ),
        (
            "jwt",
            r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            0,
            _kind("jwt"),
        ),
        ("anthropic", r"(?<![A-Za-z0-9_-])sk-ant-" + _token_with_digit_and_letter("A-Za-z0-9_-", 20), 0,
         _kind("anthropic")),
        ("openai", r"(?<![A-Za-z0-9_-])sk-" + _token_with_digit_and_letter("A-Za-z0-9_-", 20), 0, _kind("openai")),
        ("stripe", r"(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}+", 0, _kind("stripe")),
        ("aws-access-key-id", r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])", 0,
         _kind("aws-access-key-id")),
        (
            "aws-secret-access-key",
            r"(?i:(aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?|secretaccesskey[\"']?\s*[:=]\s*[\"']?))"
            r"[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])",
            0,
            r"\1" + _kind("aws-secret-access-key"),
        ),
        ("github", r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}+|github_pat_[A-Za-z0-9_]{30,}+)", 0,
         _kind("github")),
        ("slack", r"(?<![A-Za-z0-9-])xox[abprs]-" + _token_with_digit_and_letter("A-Za-z0-9-", 10), 0,
         _kind("slack")),
        ("google-api-key", r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])", 0, _kind("google-api-key")),
        (
            "bearer",
            r"(?i:\b(authorization|proxy-authorization)([\"']?\s*[:=]\s*[\"']?)(bearer|basic|token|bot)\s+)"
            r"(?![$<{\[])[^\s\"',;\\]{4,}",
            0,
            r"\1\2\3 " + _kind("bearer"),
        ),
        ("bearer", r"\b(Bearer|bearer|BEARER)\s+(?![$<{\[])[A-Za-z0-9._~+/-]{16,}+=*", 0, r"\1 " + _kind("bearer")),
        (
            "url-password",
            r"(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}://[^\s:/@\"'\\]{1,256}:)(?![$<{\[])[^\s@/\"'\\]{1,256}(@)",
            re.IGNORECASE,
            r"\1" + _kind("url-password") + r"\2",
        ),
    )
)

# Lower-case substrings without which a kind's pattern cannot match: most text skips most regexes.
_NEEDLES: Mapping[str, tuple[str, ...]] = {
    "private-key": ("private key",), "jwt": ("eyj",), "anthropic": ("sk-ant-",), "openai": ("sk-",),
    "stripe": ("_live_", "_test_"), "aws-access-key-id": ("akia", "asia"), "aws-secret-access-key": ("secret",),
    "github": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), "slack": ("xox",), "google-api-key": ("aiza",),
    "bearer": ("bearer", "authorization"), "url-password": ("://",),
}
_ASSIGNMENT_NEEDLES = ("pass", "secret", "key", "token")
_SHORTEST_MATCH = 8  # no pattern matches fewer characters

# `name = value` style assignments whose value is a secret: the name ends in one of these words.
_SECRET_WORD = (
    r"(?:password|passwd|passphrase|secret|secret_?key|client_?secret|api_?key|apikey|access_?key|"
    r"private_?key|(?:access|auth|refresh|api|bearer|session|id|client|secret)_?token|(?-i:[A-Z0-9]+_(?:TOKEN|KEY)))"
)
_ASSIGNMENT = re.compile(
    rf"(?i)(?P<name>(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{{0,64}}?{_SECRET_WORD}(?:\\?[\"'])?)"
    r"(?P<sep>\s*(?::|=(?!=))\s*)"
    r"(?:(?P<quote>\\?[\"'])(?P<quoted>(?:(?!(?P=quote))(?:\\.|[^\n\\]))*)(?P=quote)|(?P<bare>[^\s\"'`,;&<>(){}\[\]\\]+))"
    r"(?P<after>[(\[.]?)"
)
# Whole dict keys that name a secret, for `Redactor.value`.
_SECRET_KEY = re.compile(rf"(?i)[a-z0-9_.-]*?{_SECRET_WORD}")
_NOT_A_SECRET = frozenset({
    "none", "null", "nil", "true", "false", "undefined", "str", "string", "bytes", "int", "bool", "secretstr",
    "optional", "any", "required", "redacted", "hidden", "changeme", "xxx", "xxxx", "xxxxxxxx", "***", "****",
    "********", "your_api_key", "your-api-key", "<redacted>",
})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_.]*")
_REFERENCE = re.compile(r"^(?:\$|%\(|\{\{|<|\[REDACTED|\*{3,}$|x{6,}$)")
_STEM = re.compile(r"pass|pwd|secret|key|token", re.IGNORECASE)


def _is_literal_secret(value: str, followed_by: str) -> bool:
    """Whether an assigned value is a literal secret rather than code, a reference or a placeholder."""
    if len(value) < 4 or followed_by or value.lower() in _NOT_A_SECRET or _REFERENCE.match(value):
        return False
    # `password=password`, `api_key=self.api_key`, `token=new_token`: a variable, not a value.
    return not (_IDENTIFIER.fullmatch(value) and _STEM.search(value))


def _redact_assignment(match: re.Match[str]) -> str:
    quoted, bare = match.group("quoted"), match.group("bare")
    value = quoted if quoted is not None else bare
    if not _is_literal_secret(value, match.group("after") if bare is not None else ""):
        return match.group(0)
    if bare is not None and ":" in match.group("sep") and value.isalpha():
        return match.group(0)  # "the password: please ..." is prose; YAML secrets hold digits or symbols
    quote = match.group("quote") or ""
    return f"{match.group('name')}{match.group('sep')}{quote}{_kind('secret')}{quote}{match.group('after')}"


class Redactor:
    """Replaces secret values and well-known key formats in text; see the module docstring."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        given = {v for v in secret_values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}
        # A value holding quotes or backslashes also appears JSON-escaped (in tool arguments, request bodies).
        escaped = {json.dumps(v, ensure_ascii=False)[1:-1] for v in given}
        values = sorted(given | escaped, key=lambda v: (-len(v), v))
        self._count = len(given)
        self._exact = re.compile("|".join(re.escape(v) for v in values)) if values else None

    @classmethod
    def from_config(cls, config: Any, env: Mapping[str, str] = os.environ) -> Redactor:
        """Values of every provider's env_key and env_http_headers variables, and of secret-named variables."""
        names: set[str] = set()
        providers = getattr(config, "providers", None) or {}
        selected = getattr(config, "provider", None)
        for provider in [*providers.values(), *([selected] if selected is not None else [])]:
            if provider.env_key:
                names.add(provider.env_key)
            names.update(provider.env_http_headers.values())
        names.update(name for name in env if _SECRET_NAME.search(name) and not _LOCATION_NAME.search(name))
        return cls(env[name] for name in names if env.get(name))

    @property
    def secret_count(self) -> int:
        """How many exact values this redactor hides (for diagnostics; never the values themselves)."""
        return self._count

    def text(self, s: str) -> str:
        """`s` with every known secret value and every recognised key replaced by a [REDACTED…] marker."""
        if len(s) < min(_SHORTEST_MATCH, MIN_SECRET_LENGTH):
            return s
        if self._exact is not None:
            s = self._exact.sub(REDACTED, s)
        lower = s.lower()
        for kind, pattern, replacement in _PATTERNS:
            if any(needle in lower for needle in _NEEDLES[kind]):
                s = pattern.sub(replacement, s)
        if ("=" in s or ":" in s) and any(needle in lower for needle in _ASSIGNMENT_NEEDLES):
            s = _ASSIGNMENT.sub(_redact_assignment, s)
        return s

    def value(self, obj: Any) -> Any:
        """A copy of `obj` with every string in it redacted: dicts, lists, tuples, sets and dataclasses, recursively.

        A dict entry whose key names a secret (`"password"`, `"api_key"`, `"client_secret"`, ...) and whose value
        is a non-empty string is hidden whole.
        """
        return self._value(obj, self.text)

    def _value(self, obj: Any, text: Callable[[str], str]) -> Any:
        if isinstance(obj, str):
            return text(obj)
        if isinstance(obj, bytes | bytearray):
            return type(obj)(text(bytes(obj).decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape"))
        if isinstance(obj, Mapping):
            return {self._value(k, text): self._entry(k, v, text) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._value(v, text) for v in obj]
        if isinstance(obj, tuple):
            items = [self._value(v, text) for v in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        if isinstance(obj, set | frozenset):
            return type(obj)(self._value(v, text) for v in obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            clone = copy.copy(obj)
            for f in dataclasses.fields(obj):
                object.__setattr__(clone, f.name, self._entry(f.name, getattr(obj, f.name), text))
            return clone
        return obj

    def _entry(self, key: Any, value: Any, text: Callable[[str], str]) -> Any:
        if (isinstance(key, str) and isinstance(value, str) and _SECRET_KEY.fullmatch(key)
                and _is_literal_secret(value, "")):
            return _kind("secret")
        return self._value(value, text)

"""Whether an endpoint's server really gives the model the `tools` we send: the verdict `tool_call_format =
"auto"` acts on, and what `codex doctor` reports.

Two ways a server shows it has no tool support:
* it rejects them: a 4xx whose message names tools (Ollama's "does not support tools", llama-server without
  `--jinja`, servers that refuse unknown fields) — `rejects_tools` reads such an error;
* it drops them silently (llama_cpp.server in `--chat_format chatml`; llama-server when the model's chat template
  has no tools, e.g. SmolLM2-135M's): the model answers as if it never saw them.
  `probe` detects this by the prompt size the server reports: the same tiny request (one token to generate) is
  sent without and with one tool; a server that puts tools into the prompt reports more prompt tokens with it.
  This is model-independent (a tiny model that would not call the tool still reads it) and costs two one-token
  requests; the caller keeps the verdict (text_tools.py: for the session).

Forcing a named tool with `tool_choice` does not tell: llama_cpp.server's plain chat formats answer a named
tool_choice with a grammar-forced call while dropping `tools` in every other request, and its
`chatml-function-calling` format fails on `tool_choice = "required"`.

Not here: the text protocol itself (text_tools.py) or choosing the format from config (text_tools.py too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import openai

PROBE_TIMEOUT = 120.0  # seconds: a CPU server may have to read the tool's description first
PROMPT_GROWTH = 5  # tokens a rendered tool must add at least (ours adds dozens)
PROBE_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather for a city. Call this whenever the user asks about the weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"}},
                   "required": ["city"]},
}
PROBE_INSTRUCTIONS = "You are a helpful assistant."
PROBE_QUESTION = "What is the weather in Paris?"

_REJECTION = re.compile(
    r"(?:does not|doesn't|do not|cannot|can't) support (?:tools|tool[ _-]?calls|tool use|function[ _-]?calling)"
    r"|tools? (?:is|are) not supported|tool[ _-]?(?:use|calling|calls) (?:is |are )?not supported"
    r"|\btools\b param|(?:unsupported|unrecognized|unknown|extra)\b[^.]{0,40}\btools\b"
    r"|function[ _-]?calling is not (?:supported|enabled)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Verdict:
    """`format` is "native" or "text"; `reason` one clause saying what showed it; `rejected`: the server refused
    `tools` outright (a session in "auto" finds that out by itself, with any server)."""

    format: str
    reason: str
    rejected: bool = False


def rejects_tools(error: BaseException) -> bool:
    """Whether a failed request's error says the server or model does not take `tools` (not a failure of
    streaming with tools, which chat.py handles by not streaming)."""
    text = str(error)
    return bool(_REJECTION.search(text)) and "stream" not in text.lower()


def probe(client: openai.OpenAI, wire_api: str, model: str) -> Verdict:
    """Send the probe pair and judge; never raises (a server that cannot be judged keeps native tools)."""
    import openai

    client = client.with_options(timeout=PROBE_TIMEOUT, max_retries=0)
    try:
        without = _prompt_tokens(client, wire_api, model, tools=False)
        with_tools = _prompt_tokens(client, wire_api, model, tools=True)
    except openai.APIStatusError as error:
        if rejects_tools(error) or (error.status_code in (400, 422) and "tool" in str(error).lower()):
            return Verdict("text", f"the server rejected `tools` ({_short(error)})", rejected=True)
        return Verdict("native", f"the probe failed ({_short(error)}), so tools stay native")
    except openai.OpenAIError as error:
        return Verdict("native", f"the probe failed ({_short(error)}), so tools stay native")
    if not without or not with_tools:
        return Verdict("native", "the server reports no prompt usage, so the probe cannot tell; tools stay native")
    if with_tools - without < PROMPT_GROWTH:
        return Verdict("text", f"the server drops `tools` (the prompt was {without} tokens with and without one)")
    return Verdict("native", f"the server reads `tools` (one tool added {with_tools - without} prompt tokens)")


def _prompt_tokens(client: openai.OpenAI, wire_api: str, model: str, tools: bool) -> int:
    if wire_api == "responses":
        body: dict[str, Any] = {"model": model, "instructions": PROBE_INSTRUCTIONS, "input": PROBE_QUESTION,
                                "max_output_tokens": 16, "stream": False}
        if tools:
            body["tools"] = [{"type": "function", **PROBE_TOOL}]
        answer = client.post("/responses", body=body, cast_to=object)
        return _count(answer, "input_tokens")
    messages = [{"role": "system", "content": PROBE_INSTRUCTIONS}, {"role": "user", "content": PROBE_QUESTION}]
    body = {"model": model, "max_tokens": 1, "temperature": 0, "stream": False, "messages": messages}
    if tools:
        body["tools"] = [{"type": "function", "function": PROBE_TOOL}]
        body["tool_choice"] = "auto"
    answer = client.post("/chat/completions", body=body, cast_to=object)
    return _count(answer, "prompt_tokens")


def _count(answer: Any, key: str) -> int:
    usage = answer.get("usage") if isinstance(answer, dict) else None
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 160 else text[:157] + "..."


# --- which server it is, from its model listing ---------------------------------------------------------

OWNERS = {"me": "llama_cpp.server", "llamacpp": "llama.cpp", "library": "ollama", "ollama": "ollama",
          "vllm": "vllm", "organization_owner": "lmstudio"}


def listing_kind(listing: Any) -> str:
    """The server family a `/v1/models` answer points to ("" when it does not say): llama_cpp.server lists its
    models as owned by "me", llama-server by "llamacpp", Ollama by "library", vLLM by "vllm"."""
    entries = listing.get("data") if isinstance(listing, dict) else None
    owners = {e.get("owned_by") for e in entries or () if isinstance(e, dict)}
    kinds = {OWNERS[o] for o in owners if isinstance(o, str) and o in OWNERS}
    return kinds.pop() if len(kinds) == 1 else ""


def listed(client: openai.OpenAI) -> tuple[list[str], str]:
    """The model ids a server lists at /models and the family the listing points to; ([], "") on any failure."""
    try:
        answer = client.with_options(timeout=5, max_retries=0).get("/models", cast_to=object)
    except Exception:  # a server without a listing is simply unknown here
        return [], ""
    entries = answer.get("data") if isinstance(answer, dict) else None
    ids = [e["id"] for e in entries or () if isinstance(e, dict) and isinstance(e.get("id"), str)]
    return ids, listing_kind(answer)

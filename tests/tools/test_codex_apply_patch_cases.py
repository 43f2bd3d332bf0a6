"""Codex's own apply_patch test cases (openai/codex `codex-rs/apply-patch`), ported as data and run here.

The facts live in tests/tools/codex_apply_patch/*.json, one file per Codex source: the scenario fixtures
(tests/fixtures/scenarios), the unit tests of src/lib.rs, src/parser.rs, src/invocation.rs and
src/seek_sequence.rs, and the command-line tests of tests/suite/tool.rs. Each case gives the files before (and any
empty directories, `dirs`), the patch (or the shell call that carries it), and the tree after. A case marked
`stricter` is one where this implementation deliberately refuses what Codex does (all-or-nothing across files, no
absolute paths): it must fail here with nothing written, and its reason must be listed in docs/apply_patch.md;
`codex_expected` keeps the tree Codex would leave, for the record.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from agent.tools.apply_patch import (
    AddFile,
    DeleteFile,
    PatchError,
    apply_patch,
    extract_patch_from_command,
    parse,
    seek,
)
from tests.conftest import write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

DATA = Path(__file__).parent / "codex_apply_patch"
DOCS = Path(__file__).parents[2] / "docs" / "apply_patch.md"


def cases(name: str) -> list[Any]:
    data = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))["cases"]
    return [pytest.param(case, id=case["name"]) for case in data]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8"))


def read_tree(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): path.read_bytes().decode("utf-8")
            for path in sorted(root.rglob("*")) if path.is_file()}


def run_case(case: dict[str, Any], cwd: Path) -> tuple[bool, str | None]:
    """Apply the case's patch in cwd as the tools would: (applied, summary)."""
    if "argv" in case:
        text = extract_patch_from_command(case["argv"])
        assert (text is not None) == case.get("is_patch", True), f"recognised as a patch: {text is not None}"
        if text is None:
            return False, None
    else:
        text = case["patch"].replace("{cwd}", str(cwd))
    try:
        _, summary = apply_patch(text, cwd, [cwd])
    except PatchError:
        return False, None
    return True, summary


@pytest.mark.parametrize("case", cases("scenarios") + cases("lib") + cases("invocation") + cases("tool"))
def test_codex_apply_case(case: dict[str, Any], tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    write_tree(cwd, case["files"])
    for name in case.get("dirs", ()):
        (cwd / name).mkdir(parents=True)
    for name in case.get("readonly", ()):
        os.chmod(cwd / name, stat.S_IRUSR)
    applied, summary = run_case(case, cwd)
    assert applied == case["ok"]
    assert read_tree(cwd) == case["expected"]
    assert all((cwd / name).is_dir() for name in case.get("dirs", ()))
    if case.get("summary") is not None:
        assert summary == case["summary"]
    if case.get("stricter"):
        assert f"`{case['stricter']}`" in DOCS.read_text(encoding="utf-8")


def chunk_data(chunk: Any) -> dict[str, Any]:
    """A chunk as the JSON gives it: `context` for at most one `@@ <text>` line, `contexts` for nested ones."""
    contexts: dict[str, Any] = ({"contexts": list(chunk.contexts)} if len(chunk.contexts) > 1
                                else {"context": chunk.contexts[0] if chunk.contexts else None})
    return {**contexts, "old": list(chunk.old_lines), "new": list(chunk.new_lines), "eof": chunk.end_of_file}


def as_data(hunks: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for hunk in hunks:
        if isinstance(hunk, AddFile):
            out.append({"add": hunk.path, "content": hunk.content})
        elif isinstance(hunk, DeleteFile):
            out.append({"delete": hunk.path})
        else:
            chunks = [chunk_data(chunk) for chunk in hunk.chunks]
            out.append({"update": hunk.path, "move_to": hunk.move_to, "chunks": chunks})
    return out


@pytest.mark.parametrize("case", cases("parser"))
def test_codex_parser_case(case: dict[str, Any]) -> None:
    # hunks == []: Codex parses no hunks, then refuses "No files were modified."; here the parse refuses it
    if case.get("error") or case["hunks"] == []:
        with pytest.raises(PatchError):
            parse(case["patch"])
    else:
        assert as_data(parse(case["patch"])) == case["hunks"]


@pytest.mark.parametrize("case", cases("seek_sequence"))
def test_codex_seek_sequence_case(case: dict[str, Any]) -> None:
    assert seek(case["lines"], case["pattern"], case["start"], case["eof"]) == case["found"]


def test_the_ported_set_is_complete() -> None:
    names = ("scenarios", "lib", "invocation", "parser", "seek_sequence", "tool")
    counts = {name: len(cases(name)) for name in names}
    assert counts == {"scenarios": 23, "lib": 20, "invocation": 27, "parser": 25, "seek_sequence": 4, "tool": 19}


# --- gaps the issue named, beyond the ported cases ------------------------------------------------------------------


def test_in_a_file_with_mixed_line_endings_a_replaced_line_keeps_its_own_ending(tmp_path: Path) -> None:
    (tmp_path / "mixed.txt").write_bytes(b"one\r\ntwo\nthree\r\nfour\n")
    patch = ("*** Begin Patch\n*** Update File: mixed.txt\n@@\n one\n-two\n+TWO\n three\n-four\n+FOUR\n+five\n"
             "*** End Patch\n")
    apply_patch(patch, tmp_path, [tmp_path])
    assert (tmp_path / "mixed.txt").read_bytes() == b"one\r\nTWO\nthree\r\nFOUR\nfive\n"


def test_a_cd_heredoc_shell_call_cannot_leave_the_writable_roots(tmp_path: Path) -> None:
    script = "cd .. && apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: escaped.txt\n+x\n*** End Patch\nEOF"
    argv = ["bash", "-lc", script]
    work = tmp_path / "work"
    work.mkdir()
    text = extract_patch_from_command(argv)
    assert text is not None and "*** Add File: ../escaped.txt" in text
    with pytest.raises(PatchError, match="outside the writable directories"):
        apply_patch(text, work, [work])
    assert not (tmp_path / "escaped.txt").exists()


def test_a_model_s_cd_heredoc_shell_call_edits_the_file_in_that_directory(git_repo: Path, codex_home: Path,
                                                                         run_codex: Any) -> None:
    (git_repo / "sub").mkdir()
    (git_repo / "sub" / "notes.txt").write_text("old\n")
    script = ("cd sub && apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: notes.txt\n@@\n-old\n+new\n"
              "*** End Patch\nEOF")
    replies = [Reply(tool_calls=(ToolCall("shell", {"command": ["bash", "-lc", script]}),)), Reply(text="done")]
    with ScriptedServer(replies) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "-s", "workspace-write", "edit"], git_repo)
        assert run.returncode == 0, run.stderr
        output = [r for r in server.requests if r.method == "POST"][1].body["messages"][-1]["content"]
    assert (git_repo / "sub" / "notes.txt").read_text() == "new\n"
    assert "M sub/notes.txt" in output

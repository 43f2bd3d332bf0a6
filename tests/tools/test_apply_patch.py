"""Behaviour of the apply_patch tool, on real files in temporary directories."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent.tools import apply_patch as ap
from agent.tools.apply_patch import (
    AddFile,
    DeleteFile,
    FileChange,
    PatchError,
    UpdateFile,
    apply,
    apply_patch,
    extract_patch_from_command,
    parse,
    plan,
    summarize,
)
from agent.tools.apply_patch_tool import SPEC


@pytest.fixture(autouse=True)
def isolated_codex_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """apply() journals into CODEX_HOME/journal by default: keep that out of the real home and the workspace."""
    monkeypatch.setenv("CODEX_HOME", str(tmp_path_factory.mktemp("codex-home")))


def patch(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"]) + "\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(tmp_path: Path, text: str) -> str:
    _, summary = apply_patch(text, tmp_path, [tmp_path])
    return summary


def tree(root: Path) -> dict[str, str | None]:
    """Every file (with content) and directory (None) under root."""
    return {
        str(p.relative_to(root)): (p.read_text() if p.is_file() else None) for p in sorted(root.rglob("*"))
    }


# --- parsing -------------------------------------------------------------------------------------------


def test_parse_returns_one_hunk_per_file_operation() -> None:
    hunks = parse(
        patch(
            "*** Add File: new.txt",
            "+one",
            "+two",
            "*** Delete File: old.txt",
            "*** Update File: a.py",
            "*** Move to: b.py",
            "@@ def f():",
            "-    pass",
            "+    return 1",
        )
    )
    assert hunks[0] == AddFile("new.txt", "one\ntwo\n")
    assert hunks[1] == DeleteFile("old.txt")
    update = hunks[2]
    assert isinstance(update, UpdateFile)
    assert (update.path, update.move_to) == ("a.py", "b.py")
    assert update.chunks[0].contexts == ("def f():",)
    assert update.chunks[0].old_lines == ("    pass",)
    assert update.chunks[0].new_lines == ("    return 1",)


def test_empty_patch_is_rejected() -> None:
    with pytest.raises(PatchError, match="no file changes"):
        parse("*** Begin Patch\n*** End Patch\n")
    with pytest.raises(PatchError, match="empty"):
        parse("   \n")


def test_first_line_must_be_begin_patch() -> None:
    with pytest.raises(PatchError, match=r"line 1: the first line must be '\*\*\* Begin Patch'"):
        parse("*** Update File: a.py\n-x\n+y\n")


def test_unknown_hunk_header_names_line_and_expected_headers() -> None:
    with pytest.raises(PatchError) as e:
        parse(patch("*** Add File: a.txt", "+x", "foo"))
    assert str(e.value) == (
        "Invalid patch: line 4: expected '*** Add File:', '*** Update File:' or '*** Delete File:', "
        "got 'foo'; every line of an added file must start with '+'"
    )


def test_update_line_without_prefix_is_rejected_with_its_line_number() -> None:
    with pytest.raises(PatchError, match=r"line 5: .*every line must start with"):
        parse(patch("*** Update File: a.py", "@@", "-x", "y"))


def test_update_without_changes_is_rejected() -> None:
    with pytest.raises(PatchError, match="has no changes"):
        parse(patch("*** Update File: a.py"))


def test_text_after_end_patch_is_rejected() -> None:
    with pytest.raises(PatchError, match="unexpected text after"):
        parse(patch("*** Delete File: a.txt") + "rm -rf /\n")


def test_padded_marker_lines_are_recognised() -> None:
    hunks = parse(
        "  *** Begin Patch  \n *** Update File: a.py \n  @@ def f():  \n-x\n+y\n"
        " *** End of File \n*** End Patch   \n"
    )
    assert hunks == [UpdateFile("a.py", (ap.Chunk(("def f():",), ("-x", "+y"), True),))]


def test_missing_end_patch_is_tolerated(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "old\n")
    run(tmp_path, "*** Begin Patch\n*** Update File: a.txt\n-old\n+new\n")
    assert (tmp_path / "a.txt").read_text() == "new\n"


@pytest.mark.parametrize(
    "wrapped",
    [
        "```\n{p}```",
        "```diff\n{p}```\n",
        "<<'EOF'\n{p}EOF\n",
        'apply_patch <<"EOF"\n{p}EOF',
        "```\napply_patch <<EOF\n{p}EOF\n```",
    ],
)
def test_code_fences_and_heredoc_wrappers_are_stripped(wrapped: str) -> None:
    text = wrapped.format(p=patch("*** Delete File: a.txt"))
    assert parse(text) == [DeleteFile("a.txt")]


def test_git_style_hunk_header_is_treated_as_a_bare_marker(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\nb\n")
    run(tmp_path, patch("*** Update File: a.txt", "@@ -1,2 +1,2 @@", " a", "-b", "+c"))
    assert (tmp_path / "a.txt").read_text() == "a\nc\n"


# --- updating files ------------------------------------------------------------------------------------


def test_add_update_delete_and_move_in_one_patch(tmp_path: Path) -> None:
    write(tmp_path / "keep.py", "x = 1\ny = 2\n")
    write(tmp_path / "gone.txt", "bye\n")
    write(tmp_path / "old_name.py", "def f():\n    return 1\n")
    summary = run(
        tmp_path,
        patch(
            "*** Add File: pkg/new.txt",
            "+hello",
            "*** Update File: keep.py",
            "@@",
            " x = 1",
            "-y = 2",
            "+y = 3",
            "*** Delete File: gone.txt",
            "*** Update File: old_name.py",
            "*** Move to: new_name.py",
            "@@ def f():",
            "-    return 1",
            "+    return 2",
        ),
    )
    assert tree(tmp_path) == {
        "keep.py": "x = 1\ny = 3\n",
        "new_name.py": "def f():\n    return 2\n",
        "pkg": None,
        "pkg/new.txt": "hello\n",
    }
    assert summary == "A pkg/new.txt\nM keep.py\nM new_name.py\nD gone.txt"


def test_multiple_chunks_with_context_markers_edit_the_right_places(tmp_path: Path) -> None:
    method = "    def run(self):\n        return 0\n"
    source = f"class A:\n{method}\nclass B:\n{method}"
    write(tmp_path / "m.py", source)
    run(
        tmp_path,
        patch(
            "*** Update File: m.py",
            "@@ class A:",
            "@@ def run(self):",
            "-        return 0",
            "+        return 1",
            "@@ class B:",
            "     def run(self):",
            "-        return 0",
            "+        return 2",
        ),
    )
    assert (tmp_path / "m.py").read_text() == source.replace("return 0", "return 1", 1).replace(
        "return 0", "return 2"
    )


def test_context_marker_moves_search_past_earlier_identical_lines(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "def f():\n    pass\ndef g():\n    pass\n")
    run(tmp_path, patch("*** Update File: a.py", "@@ def g():", "-    pass", "+    return 2"))
    assert (tmp_path / "a.py").read_text() == "def f():\n    pass\ndef g():\n    return 2\n"


def test_lines_added_after_a_context_marker_are_inserted_there(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "def f():\n    return 1\n")
    run(tmp_path, patch("*** Update File: a.py", "@@ def f():", '+    """Doc."""'))
    assert (tmp_path / "a.py").read_text() == 'def f():\n    """Doc."""\n    return 1\n'


def test_lines_added_without_context_are_appended(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "one\n")
    run(tmp_path, patch("*** Update File: a.txt", "@@", "+two"))
    assert (tmp_path / "a.txt").read_text() == "one\ntwo\n"


def test_matching_ignores_trailing_whitespace(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "keep   \nold\t\n")
    run(tmp_path, patch("*** Update File: a.txt", " keep", "-old", "+new"))
    assert (tmp_path / "a.txt").read_text() == "keep   \nnew\n"


def test_matching_ignores_leading_and_trailing_whitespace(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "if x:\n        y = 1\n")
    run(tmp_path, patch("*** Update File: a.py", " if x:", "-    y = 1", "+    y = 2"))
    assert (tmp_path / "a.py").read_text() == "if x:\n    y = 2\n"


def test_matching_normalises_typographic_punctuation(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "say \u201chi\u201d \u2014 it\u2019s\u00a0fine\nend\n")
    run(tmp_path, patch("*** Update File: a.txt", '-say "hi" - it\'s fine', "+say hello", " end"))
    assert (tmp_path / "a.txt").read_text() == "say hello\nend\n"


def test_exact_match_is_preferred_over_a_tolerant_earlier_one(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "  x\nx\n")
    run(tmp_path, patch("*** Update File: a.txt", "-x", "+y"))
    assert (tmp_path / "a.txt").read_text() == "  x\ny\n"


def test_end_of_file_anchors_the_chunk_at_the_end(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "x\nend\nx\nend\n")
    run(tmp_path, patch("*** Update File: a.txt", " x", "-end", "+last", "*** End of File"))
    assert (tmp_path / "a.txt").read_text() == "x\nend\nx\nlast\n"


def test_end_of_file_chunk_that_is_not_at_the_end_fails(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\nb\nc\n")
    with pytest.raises(PatchError, match="at the end of a.txt"):
        run(tmp_path, patch("*** Update File: a.txt", "-a", "+z", "*** End of File"))


def test_updated_file_without_trailing_newline_gets_one(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\ntwo")
    run(tmp_path, patch("*** Update File: a.txt", "-one", "+uno"))
    assert (tmp_path / "a.txt").read_text() == "uno\ntwo\n"


def test_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"one\r\ntwo\r\n")
    run(tmp_path, patch("*** Update File: a.txt", " one", "-two", "+2", "+3"))
    assert (tmp_path / "a.txt").read_bytes() == b"one\r\n2\r\n3\r\n"


def test_trailing_blank_separator_line_in_a_chunk_is_tolerated(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\nb\n")
    run(tmp_path, patch("*** Update File: a.txt", "@@", "-b", "+c", ""))
    assert (tmp_path / "a.txt").read_text() == "a\nc\n"


def test_two_hunks_on_the_same_file_compose(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "one\ntwo\n")
    summary = run(
        tmp_path,
        patch("*** Update File: a.txt", "-one", "+uno", "*** Update File: a.txt", "-uno", "+eins"),
    )
    assert (tmp_path / "a.txt").read_text() == "eins\ntwo\n"
    assert summary == "M a.txt\nM a.txt"


def test_added_file_can_be_updated_later_in_the_same_patch(tmp_path: Path) -> None:
    run(tmp_path, patch("*** Add File: a.txt", "+one", "*** Update File: a.txt", "-one", "+two"))
    assert (tmp_path / "a.txt").read_text() == "two\n"


def test_add_on_existing_file_overwrites_it_and_is_summarised_as_an_add(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "old\n")
    changes, summary = apply_patch(patch("*** Add File: a.txt", "+new"), tmp_path, [tmp_path])
    assert (tmp_path / "a.txt").read_text() == "new\n"
    assert changes[0].kind == "update" and changes[0].old_content == "old\n"
    assert summary == "A a.txt"  # as Codex prints it


def test_add_file_with_blank_line_missing_its_plus_keeps_the_blank(tmp_path: Path) -> None:
    run(tmp_path, patch("*** Add File: a.txt", "+one", "", "+three"))
    assert (tmp_path / "a.txt").read_text() == "one\n\nthree\n"


def test_updated_file_keeps_its_mode_bits(tmp_path: Path) -> None:
    script = write(tmp_path / "run.sh", "echo hi\n")
    script.chmod(0o751)
    run(tmp_path, patch("*** Update File: run.sh", "-echo hi", "+echo bye"))
    assert stat.S_IMODE(script.stat().st_mode) == 0o751


def test_moved_file_keeps_its_mode_bits(tmp_path: Path) -> None:
    write(tmp_path / "a.sh", "x\n").chmod(0o700)
    run(tmp_path, patch("*** Update File: a.sh", "*** Move to: bin/b.sh"))
    assert not (tmp_path / "a.sh").exists()
    assert (tmp_path / "bin/b.sh").read_text() == "x\n"
    assert stat.S_IMODE((tmp_path / "bin/b.sh").stat().st_mode) == 0o700


# --- failures leave everything untouched ---------------------------------------------------------------


def test_failed_hunk_leaves_every_file_untouched(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\n")
    write(tmp_path / "b.txt", "b1\nb2\n")
    write(tmp_path / "c.txt", "c\n")
    before = tree(tmp_path)
    text = patch(
        "*** Add File: newdir/new.txt",
        "+new",
        "*** Update File: a.txt",
        "-a",
        "+A",
        "*** Delete File: c.txt",
        "*** Update File: b.txt",
        "@@",
        "-b1",
        "+B1",
        "@@",
        "-not there",
        "+x",
    )
    with pytest.raises(PatchError) as e:
        apply_patch(text, tmp_path, [tmp_path])
    assert str(e.value) == "Failed to find expected lines in b.txt (hunk 2):\n    not there"
    assert tree(tmp_path) == before


def test_failed_context_marker_names_file_and_context(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "x\n")
    expected = r"Failed to find context line '@@ def nope\(\):' in a.py \(hunk 1\)"
    with pytest.raises(PatchError, match=expected):
        run(tmp_path, patch("*** Update File: a.py", "@@ def nope():", "-x", "+y"))


def test_plan_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\n")
    changes = plan(patch("*** Add File: d/n.txt", "+n", "*** Delete File: a.txt"), tmp_path, [tmp_path])
    assert [c.kind for c in changes] == ["add", "delete"]
    assert changes[0] == FileChange(tmp_path.resolve() / "d/n.txt", "add", None, "n\n")
    assert tree(tmp_path) == {"a.txt": "a\n"}


WRITE_WITH_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
from agent.tools.apply_patch import PatchError, apply, plan
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
workspace = Path(sys.argv[1])
try:
    apply(plan(sys.stdin.read(), workspace, [workspace]), workspace, Path(sys.argv[2]))
except PatchError as e:
    print(e)
"""


def test_a_write_that_fails_midway_changes_nothing_and_says_only_that(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write(workspace / "a.txt", "a\n")
    write(workspace / "b.txt", "b\n")
    write(workspace / "c.txt", "c\n").chmod(0o640)
    before = tree(workspace)
    text = patch("*** Add File: new/dir/n.txt", "+n", "*** Update File: a.txt", "-a", "+A",
                 "*** Delete File: c.txt", "*** Update File: b.txt", "-b", "+" + "B" * 8192)
    child = subprocess.run([sys.executable, "-c", WRITE_WITH_A_FILE_SIZE_LIMIT, str(workspace),
                            str(tmp_path / "journal")], input=text, capture_output=True, text=True, timeout=60)
    assert child.stdout == "Failed to write b.txt: File too large. No files were changed.\n", child.stderr
    assert tree(workspace) == before
    assert stat.S_IMODE((workspace / "c.txt").stat().st_mode) == 0o640
    assert list((tmp_path / "journal").iterdir()) == []


def test_a_directory_swapped_for_a_symlink_after_plan_is_not_written_through(tmp_path: Path) -> None:
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    write(workspace / "sub/a.txt", "a\n")
    outside.mkdir()
    (outside / "a.txt").write_text("a\n")
    changes = plan(patch("*** Update File: sub/a.txt", "-a", "+A", "*** Add File: sub/new.txt", "+n"),
                   workspace, [workspace])
    (workspace / "sub").rename(workspace / "sub.real")
    (workspace / "sub").symlink_to(outside)
    with pytest.raises(PatchError) as e:
        apply(changes, workspace)
    assert str(e.value).startswith(f"Failed to write sub/a.txt: {workspace.resolve()}/sub is a symlink")
    assert str(e.value).endswith("No files were changed.")
    assert tree(outside) == {"a.txt": "a\n"}
    assert tree(workspace / "sub.real") == {"a.txt": "a\n"}


def test_an_unwritable_journal_stops_the_patch_before_any_file_changes(tmp_path: Path) -> None:
    write(tmp_path / "ws/a.txt", "a\n")
    (tmp_path / "not-a-directory").write_text("")
    changes = plan(patch("*** Update File: a.txt", "-a", "+A"), tmp_path / "ws", [tmp_path / "ws"])
    with pytest.raises(PatchError, match=r"the edit journal could not be written \(File exists\).*"
                                         r"No files were changed\.$"):
        apply(changes, tmp_path / "ws", tmp_path / "not-a-directory")
    assert tree(tmp_path / "ws") == {"a.txt": "a\n"}


def test_apply_refuses_to_delete_a_file_changed_since_plan(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\n")
    changes = plan(patch("*** Delete File: a.txt"), tmp_path, [tmp_path])
    (tmp_path / "a.txt").write_text("user edit\n")
    with pytest.raises(PatchError, match="Failed to delete a.txt: the file changed on disk"):
        apply(changes, tmp_path)
    assert (tmp_path / "a.txt").read_text() == "user edit\n"


def test_apply_returns_the_paths_written_and_leaves_no_journal(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write(workspace / "a.txt", "a\n")
    changes = plan(patch("*** Update File: a.txt", "*** Move to: b/a.txt", "@@", "-a", "+A"), workspace, [workspace])
    written = apply(changes, workspace, tmp_path / "journal")
    assert written.done == (workspace.resolve() / "b/a.txt", workspace.resolve() / "a.txt")
    assert written.failed == {} and written.relocated == {}
    assert tree(workspace) == {"b": None, "b/a.txt": "A\n"}
    assert list((tmp_path / "journal").iterdir()) == []


def test_delete_of_a_symlink_is_rejected(tmp_path: Path) -> None:
    write(tmp_path / "real.txt", "r\n")
    (tmp_path / "link.txt").symlink_to("real.txt")
    with pytest.raises(PatchError, match="it is a symlink"):
        run(tmp_path, patch("*** Delete File: link.txt"))


def test_add_below_an_existing_file_is_rejected(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\n")
    with pytest.raises(PatchError, match="a.txt is a file, not a directory"):
        run(tmp_path, patch("*** Add File: a.txt/b.txt", "+b"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_apply_rolls_back_when_a_directory_is_read_only(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\n")
    locked = write(tmp_path / "locked/b.txt", "b\n").parent
    changes = plan(
        patch("*** Update File: a.txt", "-a", "+A", "*** Update File: locked/b.txt", "-b", "+B"),
        tmp_path,
        [tmp_path],
    )
    locked.chmod(0o555)
    try:
        with pytest.raises(PatchError, match="Failed to write locked/b.txt"):
            apply(changes, tmp_path)
    finally:
        locked.chmod(0o755)
    assert tree(tmp_path) == {"a.txt": "a\n", "locked": None, "locked/b.txt": "b\n"}


def test_apply_refuses_a_file_changed_since_plan(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\n")
    changes = plan(patch("*** Update File: a.txt", "-a", "+A"), tmp_path, [tmp_path])
    (tmp_path / "a.txt").write_text("a\nuser edit\n")
    with pytest.raises(PatchError, match="changed on disk"):
        apply(changes, tmp_path)
    assert (tmp_path / "a.txt").read_text() == "a\nuser edit\n"


def test_update_of_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(PatchError, match="Cannot update nope.txt: the file does not exist"):
        run(tmp_path, patch("*** Update File: nope.txt", "-x", "+y"))


def test_delete_of_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(PatchError, match="Cannot delete nope.txt: the file does not exist"):
        run(tmp_path, patch("*** Delete File: nope.txt"))


def test_delete_of_a_directory_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(PatchError, match="not a regular file"):
        run(tmp_path, patch("*** Delete File: sub"))
    assert (tmp_path / "sub").is_dir()


def test_add_over_a_directory_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(PatchError, match="it is a directory"):
        run(tmp_path, patch("*** Add File: sub", "+x"))


# --- paths ---------------------------------------------------------------------------------------------


def test_absolute_path_is_rejected(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    with pytest.raises(PatchError, match="use a path relative to the working directory"):
        run(tmp_path, patch(f"*** Add File: {target}", "+x"))
    assert not target.exists()


def test_dotdot_escape_is_rejected(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(PatchError, match="outside the writable directories"):
        run(work, patch("*** Add File: ../escape.txt", "+x"))
    assert not (tmp_path / "escape.txt").exists()


def test_dotdot_that_stays_inside_is_allowed(tmp_path: Path) -> None:
    run(tmp_path, patch("*** Add File: sub/../inside.txt", "+x"))
    assert (tmp_path / "inside.txt").read_text() == "x\n"


def test_symlink_pointing_outside_is_rejected(tmp_path: Path) -> None:
    work, outside = tmp_path / "work", write(tmp_path / "outside/secret.txt", "secret\n")
    work.mkdir()
    (work / "link").symlink_to(outside.parent)
    (work / "file_link").symlink_to(outside)
    for text in (
        patch("*** Add File: link/new.txt", "+x"),
        patch("*** Update File: file_link", "-secret", "+leaked"),
    ):
        with pytest.raises(PatchError, match="outside the writable directories"):
            run(work, text)
    assert tree(tmp_path / "outside") == {"secret.txt": "secret\n"}


def test_move_outside_the_writable_roots_is_rejected(tmp_path: Path) -> None:
    work = tmp_path / "work"
    write(work / "a.txt", "a\n")
    with pytest.raises(PatchError, match="outside the writable directories"):
        run(work, patch("*** Update File: a.txt", "*** Move to: ../a.txt"))


def test_other_writable_root_is_allowed(tmp_path: Path) -> None:
    work, other = tmp_path / "work", tmp_path / "other"
    work.mkdir()
    other.mkdir()
    _, summary = apply_patch(patch("*** Add File: ../other/x.txt", "+x"), work, [work, other])
    assert (other / "x.txt").read_text() == "x\n"
    assert summary == "A ../other/x.txt"


# --- summary and tool spec -----------------------------------------------------------------------------


def test_summary_lists_one_relative_path_per_change(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    changes = [
        FileChange(root / "a.txt", "add", None, "a\n"),
        FileChange(root / "src/b.py", "update", "x\n", "y\n"),
        FileChange(root / "c.txt", "delete", "c\n", None),
        FileChange(root / "old.py", "update", "o\n", "o\n", move_to=root / "pkg/new.py"),
    ]
    assert summarize(changes, tmp_path) == "A a.txt\nM src/b.py\nM pkg/new.py\nD c.txt"


def test_tool_spec_is_a_function_tool_with_one_input_string() -> None:
    assert SPEC.name == "apply_patch"
    assert SPEC.parameters["required"] == ["input"]
    assert SPEC.parameters["properties"]["input"]["type"] == "string"
    assert SPEC.parameters["additionalProperties"] is False
    for marker in ("*** Begin Patch", "*** Update File:", "*** Move to:", "@@", "*** End Patch"):
        assert marker in SPEC.description


# --- recognising apply_patch in shell calls ------------------------------------------------------------

PATCH = patch("*** Delete File: a.txt")


@pytest.mark.parametrize(
    "command",
    [
        ["apply_patch", PATCH],
        ["applypatch", PATCH],
        ["apply_patch", f"<<'EOF'\n{PATCH}EOF\n"],
        ["bash", "-lc", f"apply_patch <<'EOF'\n{PATCH}EOF\n"],
        ["bash", "-c", f'apply_patch <<"EOF"\n{PATCH}EOF'],
        ["/bin/sh", "-c", f"apply_patch <<EOF\n{PATCH}EOF\n"],
        ["bash", "-l", "-c", f"applypatch << 'PATCH'\n{PATCH}PATCH\n"],
        f"apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"apply_patch <<'EOF'\n{PATCH}",
        f"apply_patch '{PATCH}'",
    ],
)
def test_apply_patch_calls_inside_shell_commands_are_recognised(command: list[str] | str) -> None:
    extracted = extract_patch_from_command(command)
    assert extracted is not None
    assert parse(extracted) == [DeleteFile("a.txt")]


@pytest.mark.parametrize(
    "command",
    [
        ["bash", "-lc", "ls"],
        ["ls", "-la"],
        "git status",
        ["python", "-c", f"apply_patch <<'EOF'\n{PATCH}EOF\n"],
        ["bash", "-lc", f"cd sub; apply_patch <<'EOF'\n{PATCH}EOF\n"],
        ["bash", "-lc", f"apply_patch <<'EOF'\n{PATCH}EOF\necho done\n"],
        ["bash", "-lc", "echo apply_patch"],
        ["apply_patch"],
        [],
    ],
)
def test_other_shell_commands_are_not_apply_patch(command: list[str] | str) -> None:
    assert extract_patch_from_command(command) is None

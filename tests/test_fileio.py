"""agent/fileio.py with real files, real processes and real signals: a replaced file is always either the old
content or the new one, even when its writer is killed with SIGKILL in the middle; a normal write leaves no
temporary file behind; modes and planted symlinks are handled as the stores need."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent.fileio import TEMP_SUFFIX, write_all, write_atomic

PAYLOAD = 8 * 1024 * 1024  # large enough that a kill lands inside a write, not between two

# Writes whole files of one repeated byte, alternating A and B, until killed; says "ready" once it started.
WRITER = """
import sys
from pathlib import Path
from agent.fileio import write_atomic
path, size = Path(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
n = 0
while True:
    write_atomic(path, (b"AB"[n % 2:n % 2 + 1]) * size)
    n += 1
"""


def is_whole(data: bytes) -> bool:
    return len(data) == PAYLOAD and data in (b"A" * PAYLOAD, b"B" * PAYLOAD, b"O" * PAYLOAD)


def read_until(path: Path, stop: threading.Event, seen: list[bool]) -> None:
    """Read `path` again and again until stopped, noting for each read whether it was one whole content."""
    while not stop.is_set():
        seen.append(is_whole(path.read_bytes()))


def temp_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(TEMP_SUFFIX)]


def test_a_writer_killed_mid_write_leaves_the_old_or_the_new_content_never_a_mix(tmp_path: Path) -> None:
    target = tmp_path / "state.bin"
    write_atomic(target, b"O" * PAYLOAD)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    killed_mid_write = 0
    for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.15):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(PAYLOAD)], env=env,
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        seen: list[bool] = []
        stop = threading.Event()
        reader = threading.Thread(target=read_until, args=(target, stop, seen))
        reader.start()
        time.sleep(delay + 0.05)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
        stop.set()
        reader.join()
        assert writer.returncode == -signal.SIGKILL
        assert all(seen) and seen, "a reader saw a partly written file"
        assert is_whole(target.read_bytes()), f"after a kill at {delay}s the file is neither old nor new"
        leftovers = temp_files(tmp_path)
        killed_mid_write += bool(leftovers)
        for leftover in leftovers:  # a killed writer's temporary file: what the stores sweep
            leftover.unlink()
    assert killed_mid_write, "no kill landed inside a write; the test proved nothing"


def test_a_normal_write_replaces_the_content_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "head.json"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.json"]


def test_a_failed_write_keeps_the_old_content_and_removes_its_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "undo.json"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]  # fails after the temporary file exists
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["undo.json"]


def test_the_new_file_gets_the_mode_asked_for_and_keep_mode_keeps_an_existing_files_bits(tmp_path: Path) -> None:
    private = tmp_path / "private"
    write_atomic(private, b"x")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    config = tmp_path / "config.toml"
    config.write_text("a = 1\n")
    config.chmod(0o640)
    write_atomic(config, b"a = 2\n", keep_mode=True)
    assert stat.S_IMODE(config.stat().st_mode) == 0o640 and config.read_text() == "a = 2\n"
    fresh = tmp_path / "fresh.toml"
    write_atomic(fresh, b"", 0o600, keep_mode=True)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_a_symlink_planted_at_the_fixed_temporary_name_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "state.json.tmp").symlink_to(victim)
    write_atomic(tmp_path / "state.json", b"{}", temp_name="state.json.tmp")
    assert victim.read_bytes() == b"precious"
    assert (tmp_path / "state.json").read_bytes() == b"{}"
    assert not (tmp_path / "state.json.tmp").exists() and not (tmp_path / "state.json.tmp").is_symlink()


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    link = tmp_path / "link"
    link.symlink_to(victim)
    write_atomic(link, b"new")
    assert victim.read_bytes() == b"precious"
    assert not link.is_symlink() and link.read_bytes() == b"new"


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to see the system calls")
def test_the_file_and_its_directory_are_fsynced_before_and_after_the_rename(tmp_path: Path) -> None:
    script = "import sys; from pathlib import Path; from agent.fileio import write_atomic; " \
             "write_atomic(Path(sys.argv[1]), b'data')"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run(["strace", "-f", "-e", "trace=fsync,rename,renameat,renameat2", sys.executable, "-c",
                          script, str(tmp_path / "f")], env=env, capture_output=True, text=True, timeout=60)
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip("ptrace is not permitted here")
    calls = [line.split("(")[0].split()[-1] for line in run.stderr.splitlines()
             if line.split("(")[0].split() and line.split("(")[0].split()[-1] in
             ("fsync", "rename", "renameat", "renameat2")]
    assert calls[-3:] in (["fsync", "rename", "fsync"], ["fsync", "renameat", "fsync"],
                          ["fsync", "renameat2", "fsync"]), run.stderr


def test_write_all_delivers_every_byte_through_a_pipe_larger_than_its_buffer() -> None:
    data = os.urandom(1024 * 1024)  # many times a pipe's 64 KiB buffer
    read_fd, write_fd = os.pipe()
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read_fd, 65536):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    write_all(write_fd, data)
    os.close(write_fd)
    reader.join()
    os.close(read_fd)
    assert bytes(received) == data

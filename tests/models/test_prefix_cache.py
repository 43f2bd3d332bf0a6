"""The on-disk store of the fixed prompt prefix's KV state: exact-token lookup, LRU bounds, atomic writes."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from agent.models.prefix_cache import MAGIC, PrefixCache, identity

TOKENS = tuple(range(100, 400))


def cache(tmp_path: Path, **bounds) -> PrefixCache:
    return PrefixCache(tmp_path / "prompt-prefix", "model=a;n_ctx=4096", **bounds)


def test_saved_state_is_found_only_for_the_same_tokens_and_identity(tmp_path: Path):
    store = cache(tmp_path)
    store.save(TOKENS, b"state-bytes" * 100)

    assert store.load(TOKENS) == b"state-bytes" * 100
    assert store.load(TOKENS[:-1]) is None
    assert store.load((*TOKENS[:-1], 7)) is None
    other = PrefixCache(store.directory, "model=a;n_ctx=8192")
    assert other.load(TOKENS) is None


def test_a_cut_short_or_foreign_file_is_ignored(tmp_path: Path):
    store = cache(tmp_path)
    path = store.save(TOKENS, b"x" * 5000)
    path.write_bytes(path.read_bytes()[:-10])
    assert store.load(TOKENS) is None
    path.write_bytes(b"not a cache file")
    assert store.load(TOKENS) is None
    path.write_bytes(MAGIC + b"\xff" * 8)
    assert store.load(TOKENS) is None


def test_entries_beyond_the_bounds_go_least_recently_used_first(tmp_path: Path):
    store = cache(tmp_path, max_entries=2)
    first, second = (1,) * 10, (2,) * 10
    store.save(first, b"1" * 100)
    store.save(second, b"2" * 100)
    past = time.time() - 100
    os.utime(store.path(first), (past, past))
    os.utime(store.path(second), (past - 50, past - 50))
    assert store.load(second) is not None  # used now: most recent
    store.save((3,) * 10, b"3" * 100)

    assert store.load(first) is None
    assert store.load(second) is not None and store.load((3,) * 10) is not None


def test_total_size_is_bounded(tmp_path: Path):
    store = cache(tmp_path, max_bytes=2500)
    for n in range(4):
        store.save((n,) * 10, bytes(1000))
        time.sleep(0.01)
    kept = sorted(store.directory.glob("*.kv"))
    assert len(kept) == 2
    assert store.load((3,) * 10) is not None


def test_temporary_files_of_killed_writers_are_removed(tmp_path: Path):
    store = cache(tmp_path)
    store.directory.mkdir(parents=True)
    stale = store.directory / ".prefix-dead.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    store.save(TOKENS, b"s")
    assert not stale.exists()


def _write_many(directory: str, payload: int) -> None:
    store = PrefixCache(Path(directory), "model=a;n_ctx=4096")
    for _ in range(30):
        store.save(TOKENS, bytes([payload]) * 200_000)


def test_concurrent_runs_never_read_a_partial_entry(tmp_path: Path):
    store = cache(tmp_path)
    writers = [multiprocessing.Process(target=_write_many, args=(str(store.directory), n)) for n in (1, 2, 3)]
    for writer in writers:
        writer.start()
    seen = set()
    while any(w.is_alive() for w in writers):
        state = store.load(TOKENS)
        if state is not None:
            assert len(state) == 200_000 and len(set(state)) == 1  # one writer's whole state, never a mix
            seen.add(state[0])
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    assert store.load(TOKENS) is not None
    assert not list(store.directory.glob("*.tmp"))


def test_identity_changes_with_the_model_file(tmp_path: Path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(100))
    before = identity(model, {"n_ctx": 4096})
    model.write_bytes(b"GGUF" + bytes(101))
    assert identity(model, {"n_ctx": 4096}) != before
    assert identity(model, {"n_ctx": 2048}) != identity(model, {"n_ctx": 4096})

"""What the benchmark scripts say about the machine they ran on: its description and how busy it was."""

from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path


def describe() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), "
            f"Python {platform.python_version()}, uid {os.geteuid()}")


def cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)
    return None


def background_busy(seconds: float = 1.0) -> float | None:
    """Share of the machine's CPU time used by other work during ``seconds`` (the caller sleeps meanwhile)."""
    before = cpu_times()
    time.sleep(seconds)
    after = cpu_times()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def busy_text(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"

"""How the agent starts a command's process: no stdin, stdout and stderr on one pipe, its own session.

Both the shell tool's process runner (agent.tools.process_runner) and the sandbox launchers
(agent.safety.launchers) start processes this way, so a launcher started ahead of its command gives that
command exactly the stdio and process group it would have had. This module only starts processes; it does
not wait for them, read them, confine them or decide whether they may run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

Spawn = Callable[[Sequence[str], Path, Mapping[str, str]], "subprocess.Popen[bytes]"]


def popen(argv: Sequence[str], cwd: Path | None, env: Mapping[str, str],
          pass_fds: Sequence[int] = ()) -> subprocess.Popen[bytes]:
    """Start argv with a command's stdio (stdin /dev/null, stdout and stderr merged) in a new process group."""
    return subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, pass_fds=tuple(pass_fds),
    )

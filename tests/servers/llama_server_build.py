"""Build llama.cpp's `llama-server` once from the sources vendored in the llama-cpp-python sdist.

The binary is cached under ~/.cache/codex-local-tests/llama-server/<version>/ (never in the repository),
keyed by the llama-cpp-python version installed here, so the server matches the engine the project embeds.
`python -m tests.servers.llama_server_build` builds it when missing (CI runs this); the test fixtures only
look for the cached binary and build it themselves when it is absent. This module does not start servers.
"""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

FALLBACK_VERSION = "0.3.36"


def llama_cpp_version() -> str:
    """The installed llama-cpp-python version (the sdist we build from), else the pinned fallback."""
    try:
        return importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return FALLBACK_VERSION


def cache_root() -> pathlib.Path:
    return pathlib.Path.home() / ".cache" / "codex-local-tests" / "llama-server"


def binary_path(version: str | None = None) -> pathlib.Path:
    return cache_root() / (version or llama_cpp_version()) / "llama-server"


def missing_toolchain() -> str | None:
    """Why no build is possible here (a sentence), or None when a compiler and cmake exist."""
    if shutil.which("cmake") is None:
        return "cmake is not installed, so llama.cpp's llama-server cannot be built (apt-get install cmake)"
    if not any(shutil.which(cc) for cc in ("c++", "g++", "clang++")):
        return "no C++ compiler is installed, so llama.cpp's llama-server cannot be built (apt-get install g++)"
    return None


def _sdist(version: str) -> pathlib.Path:
    sdist_dir = cache_root() / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    archive = sdist_dir / f"llama_cpp_python-{version}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"llama-cpp-python=={version}", "--no-deps",
             "--no-binary", ":all:", "-d", str(sdist_dir)],
            check=True, stdin=subprocess.DEVNULL,
        )
    return archive


def _unpacked(archive: pathlib.Path, version: str) -> pathlib.Path:
    src_root = cache_root() / "src"
    source = src_root / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if not (source / "CMakeLists.txt").exists():
        src_root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(src_root, filter="data")
    return source


def build(version: str | None = None, jobs: int = 2) -> pathlib.Path:
    """The cached llama-server binary, built first when missing (about 23 min on 2 busy cores)."""
    version = version or llama_cpp_version()
    target = binary_path(version)
    if target.exists():
        return target
    reason = missing_toolchain()
    if reason:
        raise RuntimeError(reason)
    source = _unpacked(_sdist(version), version)
    build_dir = cache_root() / "build" / version
    flags = ["-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TESTS=OFF",
             "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_CURL=OFF", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_NATIVE=ON"]
    if shutil.which("ninja"):
        flags += ["-G", "Ninja"]
    subprocess.run(["cmake", "-S", str(source), "-B", str(build_dir), *flags], check=True, stdin=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", str(jobs)],
                   check=True, stdin=subprocess.DEVNULL)
    built = build_dir / "bin" / "llama-server"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copy2(built, partial)
    os.replace(partial, target)
    shutil.rmtree(build_dir, ignore_errors=True)
    shutil.rmtree(source.parents[1], ignore_errors=True)  # the unpacked sdist; the archive stays for a rebuild
    return target


if __name__ == "__main__":
    print(build())

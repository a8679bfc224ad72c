"""Compiling one module version for one platform version into a reproducible artifact.

Compilation checks what the bundle asks of the platform and of its producers, byte-compiles every
``.py`` file, and packs the bundle into a canonical zip with a ``.build.json`` describing the build.
Nothing in the artifact depends on time, machine or module version number, so the same bundle
compiled for the same platform always yields the same sha256 and the store holds it once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from app.engine.artifacts import ArtifactStore, sha256_hex
from app.engine.blobs import Blob, BlobError, blob_size, read_all, sha256_of
from app.engine.bundle import Bundle
from app.engine.manifest import MANIFEST_NAME, Manifest
from app.engine.secret_keys import mask_config

BUILD_INFO_NAME = ".build.json"
# Byte-compiling needs the whole source and many times its size again: a bigger .py file fails.
MAX_PYTHON_SOURCE = 16 * 1024 * 1024


@dataclass(frozen=True)
class PlatformSpec:
    """The part of a catalog entry compilation needs."""

    version: str
    capabilities: frozenset[str]


@dataclass(frozen=True)
class CompileOutcome:
    succeeded: bool
    reason: str | None
    artifact_sha256: str | None
    artifact_size: int

    @classmethod
    def failed(cls, reason: str) -> CompileOutcome:
        return cls(succeeded=False, reason=reason, artifact_sha256=None, artifact_size=0)


def compile_bundle(
    bundle: Bundle,
    platform: PlatformSpec,
    producers: Mapping[str, bool | None],
    store: ArtifactStore,
) -> CompileOutcome:
    """Compile ``bundle`` for ``platform``; ``producers`` gives each ``depends`` entry's state.

    ``producers[name]`` is True when that producer compiled for this platform, False when its
    compilation failed, None (or absent) when no such module exists. A failure stores nothing.
    """
    reason = first_failure(bundle, platform, producers)
    if reason is not None:
        return CompileOutcome.failed(reason)
    pending = store.prepare(artifact_content(bundle, platform), compress=False)
    return CompileOutcome(
        succeeded=True, reason=None, artifact_sha256=store.commit([pending])[0], artifact_size=pending.size
    )


def first_failure(bundle: Bundle, platform: PlatformSpec, producers: Mapping[str, bool | None]) -> str | None:
    """The first reason compilation fails, in the contract's order, or None."""
    manifest = bundle.manifest
    checks: tuple[Callable[[], str | None], ...] = (
        lambda: _platform_problem(manifest, platform),
        lambda: _capability_problem(manifest, platform),
        lambda: _missing_producer(manifest, producers),
        lambda: _failed_producer(manifest, platform, producers),
        lambda: _python_problem(bundle),
    )
    for check in checks:  # lazily: byte-compiling is skipped when an earlier check already fails
        reason = check()
        if reason is not None:
            return reason
    return None


def artifact_content(bundle: Bundle, platform: PlatformSpec) -> dict[str, Blob]:
    """What the artifact holds: the bundle's content without its manifest, plus ``.build.json``.

    The artifact zip (``ArtifactStore.prepare``) stores its members uncompressed: a deploy then
    copies each file's bytes, and a big one goes from the artifact to the front-end in the kernel.
    """
    files = {name: data for name, data in bundle.files.items() if name != MANIFEST_NAME}
    files[BUILD_INFO_NAME] = _build_info(bundle, platform)
    return files


def _build_info(bundle: Bundle, platform: PlatformSpec) -> bytes:
    manifest = bundle.manifest
    info = {
        "module": manifest.name,
        "application": manifest.application,
        "platform": platform.version,
        "capabilities_used": sorted(manifest.uses),
        "depends": list(manifest.depends),
        # Artifacts and releases are no place for a secret (rules.md#secrets): config.json alone carries it.
        "config_defaults": mask_config(manifest.config, manifest.secret_keys),
        "manifest_sha256": sha256_hex(read_all(bundle.files[MANIFEST_NAME])),
        # Each content file's sha256, once here: every deploy of the artifact writes them into
        # .release.json without reading the files again (upgrades prepare, deploys are the window).
        "files": {name: sha256_of(blob) for name, blob in bundle.files.items() if name != MANIFEST_NAME},
    }
    return json.dumps(info, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _platform_problem(manifest: Manifest, platform: PlatformSpec) -> str | None:
    if not manifest.platform:
        return None
    # prereleases=True: a catalog that ships a pre-release version should still match ranges.
    if SpecifierSet(manifest.platform).contains(Version(platform.version), prereleases=True):
        return None
    return f"requires platform {manifest.platform}, not {platform.version}"


def _capability_problem(manifest: Manifest, platform: PlatformSpec) -> str | None:
    for capability in manifest.uses:
        if capability not in platform.capabilities:
            return f"uses capability {capability!r}, which platform {platform.version} does not offer"
    return None


def _missing_producer(manifest: Manifest, producers: Mapping[str, bool | None]) -> str | None:
    for producer in manifest.depends:
        if producers.get(producer) is None:
            return f"depends on {producer!r}, which is not in the environment"
    return None


def _failed_producer(manifest: Manifest, platform: PlatformSpec, producers: Mapping[str, bool | None]) -> str | None:
    for producer in manifest.depends:
        if producers.get(producer) is False:
            return f"producer {producer!r} failed to compile for {platform.version}"
    return None


def _python_problem(bundle: Bundle) -> str | None:
    """Byte-compile every ``.py`` file; report the first that does not compile."""
    problem = None
    for path, source in _python_sources(bundle):
        found = _compile_problem(path, source)
        problem = problem or found  # keep compiling the rest: every file is checked, the first is reported
    return problem


def _python_sources(bundle: Bundle) -> Iterator[tuple[str, Blob]]:
    for path, source in bundle.files.items():
        if path.endswith(".py"):
            yield path, source


def _compile_problem(path: str, blob: Blob) -> str | None:
    if blob_size(blob) > MAX_PYTHON_SOURCE:
        return f"{path} is larger than {MAX_PYTHON_SOURCE // (1024 * 1024)} MiB, too big to byte-compile"
    try:
        source = read_all(blob)
    except BlobError as error:
        return f"{path} cannot be read: {error}"
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        line = f" line {error.lineno}" if error.lineno else ""
        return f"syntax error in {path}{line}: {error.msg}"
    except ValueError as error:  # e.g. a NUL byte in the source (a SyntaxError from Python 3.12)
        return f"syntax error in {path}: {error}"
    except (RecursionError, MemoryError):
        return f"syntax error in {path}: too deeply nested to compile"
    return None

"""Compilation: each failure reason in the contract's order, and reproducible artifacts."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from app.engine.artifacts import ArtifactStore
from app.engine.bundle import Bundle
from app.engine.compiler import BUILD_INFO_NAME, CompileOutcome, PlatformSpec, compile_bundle
from app.engine.manifest import MANIFEST_NAME, parse_manifest

P_11_18 = PlatformSpec("11.18.1", frozenset({"http.v2", "soap.legacy"}))
P_11_19 = PlatformSpec("11.19.0", frozenset({"http.v2"}))


def make_bundle(manifest: str = 'name = "Orders"\n', /, **files: bytes) -> Bundle:
    text = manifest.encode()
    content = {"src/app.py": b"def main():\n    return 1\n", **files}
    return Bundle(manifest=parse_manifest(text), files={MANIFEST_NAME: text, **content})


@pytest.fixture
def fl_store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def artifact_files(store: ArtifactStore, outcome: CompileOutcome) -> dict[str, bytes]:
    assert outcome.artifact_sha256 is not None
    with zipfile.ZipFile(io.BytesIO(store.read(outcome.artifact_sha256))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def failure(bundle: Bundle, store: ArtifactStore, platform: PlatformSpec = P_11_19, **producers: bool | None) -> str:
    outcome = compile_bundle(bundle, platform, producers, store)
    assert outcome == CompileOutcome(False, outcome.reason, None, 0)
    assert not store.root.exists()  # a failed compilation stores nothing
    assert outcome.reason is not None and "\n" not in outcome.reason
    return outcome.reason


def test_success_stores_the_artifact(fl_store: ArtifactStore) -> None:
    manifest = (
        'name = "Orders"\napplication = "Sales"\nuses = ["http.v2"]\ndepends = ["Customers"]\n[config]\nA = "1"\n'
    )
    outcome = compile_bundle(make_bundle(manifest), P_11_19, {"Customers": True}, fl_store)
    assert outcome.succeeded and outcome.reason is None
    assert outcome.artifact_sha256 is not None
    assert outcome.artifact_size == len(fl_store.read(outcome.artifact_sha256))
    files = artifact_files(fl_store, outcome)
    assert sorted(files) == [BUILD_INFO_NAME, "src/app.py"]  # module.toml stays out
    info = json.loads(files[BUILD_INFO_NAME])
    assert info == {
        "module": "Orders",
        "application": "Sales",
        "platform": "11.19.0",
        "capabilities_used": ["http.v2"],
        "depends": ["Customers"],
        "config_defaults": {"A": "1"},
        "manifest_sha256": info["manifest_sha256"],
        "files": {"src/app.py": hashlib.sha256(files["src/app.py"]).hexdigest()},
    }
    assert len(info["manifest_sha256"]) == 64


def test_same_bundle_and_platform_give_the_same_sha(fl_store: ArtifactStore, tmp_path: Path) -> None:
    first = compile_bundle(make_bundle(), P_11_19, {}, fl_store)
    second = compile_bundle(make_bundle(), P_11_19, {}, ArtifactStore(tmp_path / "other"))
    assert first.artifact_sha256 == second.artifact_sha256
    assert first.artifact_size == second.artifact_size


def test_other_platform_or_content_gives_another_sha(fl_store: ArtifactStore) -> None:
    base = compile_bundle(make_bundle(), P_11_19, {}, fl_store).artifact_sha256
    assert compile_bundle(make_bundle(), P_11_18, {}, fl_store).artifact_sha256 != base
    changed = make_bundle(**{"src/app.py": b"x = 2\n"})
    assert compile_bundle(changed, P_11_19, {}, fl_store).artifact_sha256 != base


def test_platform_outside_the_range(fl_store: ArtifactStore) -> None:
    bundle = make_bundle('name = "Orders"\nplatform = ">=11.20"\nuses = ["gone"]\n', **{"bad.py": b"def ("})
    assert failure(bundle, fl_store) == "requires platform >=11.20, not 11.19.0"


def test_platform_inside_the_range_passes(fl_store: ArtifactStore) -> None:
    bundle = make_bundle('name = "Orders"\nplatform = ">=11.18,<11.20"\n')
    assert compile_bundle(bundle, P_11_19, {}, fl_store).succeeded


def test_missing_capability(fl_store: ArtifactStore) -> None:
    bundle = make_bundle('name = "Orders"\nuses = ["http.v2", "soap.legacy"]\ndepends = ["Nobody"]\n')
    assert failure(bundle, fl_store) == "uses capability 'soap.legacy', which platform 11.19.0 does not offer"
    assert compile_bundle(bundle, P_11_18, {"Nobody": True}, fl_store).succeeded


def test_missing_producer_comes_before_failed_producer(fl_store: ArtifactStore) -> None:
    bundle = make_bundle('name = "Orders"\ndepends = ["Broken", "Nobody"]\n')
    reason = failure(bundle, fl_store, Broken=False, Nobody=None)
    assert reason == "depends on 'Nobody', which is not in the environment"


def test_producer_absent_from_the_mapping_counts_as_missing(fl_store: ArtifactStore) -> None:
    bundle = make_bundle('name = "Orders"\ndepends = ["Customers"]\n')
    assert failure(bundle, fl_store) == "depends on 'Customers', which is not in the environment"


def test_failed_producer(fl_store: ArtifactStore) -> None:
    bundle = make_bundle('name = "Orders"\ndepends = ["Customers"]\n', **{"bad.py": b"def ("})
    assert failure(bundle, fl_store, Customers=False) == "producer 'Customers' failed to compile for 11.19.0"


def test_syntax_error_names_file_and_line(fl_store: ArtifactStore) -> None:
    bundle = make_bundle(**{"src/z.py": b"ok = 1\n\nif True print(2)\n", "src/y.py": b"x = (\n"})
    assert failure(bundle, fl_store).startswith("syntax error in src/y.py line 1: ")
    single = make_bundle(**{"src/z.py": b"ok = 1\n\nif True print(2)\n"})
    assert failure(single, fl_store).startswith("syntax error in src/z.py line 3: ")  # wording varies by Python


def test_every_python_file_is_compiled(fl_store: ArtifactStore) -> None:
    deep = make_bundle(**{"pkg/a/b/c.py": b"def broken(:\n"})
    assert failure(deep, fl_store).startswith("syntax error in pkg/a/b/c.py line 1")
    not_python = make_bundle(**{"notes.txt": b"def broken(:\n", "data.pyw": b"("})
    assert compile_bundle(not_python, P_11_19, {}, fl_store).succeeded


def test_null_byte_and_bad_encoding_fail(fl_store: ArtifactStore) -> None:
    assert "src/n.py" in failure(make_bundle(**{"src/n.py": b"x = 1\x00\n"}), fl_store)
    assert "src/e.py" in failure(make_bundle(**{"src/e.py": b"x = '\xff'\n"}), fl_store)


def test_build_info_omits_the_version_so_republishing_reuses_the_artifact(fl_store: ArtifactStore) -> None:
    outcome = compile_bundle(make_bundle(), P_11_19, {}, fl_store)
    info = json.loads(artifact_files(fl_store, outcome)[BUILD_INFO_NAME])
    assert "version" not in info
    raw = artifact_files(fl_store, outcome)[BUILD_INFO_NAME]
    assert raw == json.dumps(info, sort_keys=True, separators=(",", ":")).encode()

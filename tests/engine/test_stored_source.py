"""The stored form of a bundle: its ``module.toml`` written again without secret defaults reads back
as the same manifest, whatever its keys and values hold; a bundle without one is stored as it came."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.bundle import load_bundle
from app.engine.manifest import MANIFEST_NAME, Manifest, parse_manifest
from app.engine.names import windows_name_problem
from app.engine.stored_source import manifest_toml, secret_defaults, without_secret_defaults
from tests.bundles import write_bundle

TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)  # any character TOML may hold
# Names a module may have: the pattern, less those a Windows front-end cannot hold ("A.", "CON").
NAMES = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.-]{0,20}\Z").filter(lambda name: windows_name_problem(name) is None)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    """Manifests a bundle can have: any text where the format allows it."""
    config = draw(st.dictionaries(TEXT, TEXT, max_size=5))
    name = draw(NAMES)
    declarable = sorted(key for key in config if key)  # secret_keys entries are not empty
    return Manifest(
        name=name,
        application=draw(NAMES),
        description=draw(TEXT),
        platform=draw(st.sampled_from(["", ">=11.10", "==11.18.1"])),
        uses=tuple(draw(st.lists(st.text(min_size=1, max_size=8), max_size=3, unique=True))),
        depends=tuple(
            draw(st.lists(NAMES.filter(lambda other: other.casefold() != name.casefold()), max_size=3, unique=True))
        ),
        config=config,
        secret_keys=tuple(draw(st.lists(st.sampled_from(declarable), unique=True))) if declarable else (),
    )


@settings(max_examples=300, deadline=None)
@given(manifests())
def test_the_written_manifest_reads_back_the_same(manifest: Manifest) -> None:
    text = manifest_toml(manifest)
    parsed = parse_manifest(text)
    assert parsed.to_json() == manifest.to_json()
    assert list(parsed.config) == list(manifest.config), "the keys keep their order"


def test_a_bundle_with_secret_defaults_is_stored_without_them(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path, "Mailer", config={"SmtpPassword": "hunter2", "Pin": "1234", "Host": "mx"})
    manifest = folder / "module.toml"
    manifest.write_text('secret_keys = ["Pin"]\n' + manifest.read_text(), encoding="utf-8")
    bundle = load_bundle(folder)
    assert secret_defaults(bundle.manifest) == {"SmtpPassword": "hunter2", "Pin": "1234"}

    stored = without_secret_defaults(bundle)

    toml = stored.files[MANIFEST_NAME]
    assert isinstance(toml, bytes) and b"hunter2" not in toml and b"1234" not in toml
    assert dict(stored.manifest.config) == {"SmtpPassword": "", "Pin": "", "Host": "mx"}
    assert stored.manifest.secret_keys == ("Pin",)
    assert {name: data for name, data in stored.files.items() if name != MANIFEST_NAME} == {
        name: data for name, data in bundle.files.items() if name != MANIFEST_NAME
    }
    assert without_secret_defaults(stored) is stored, "nothing left to hide"
    assert without_secret_defaults(load_bundle(folder)).sha256 == stored.sha256, "the same bundle, the same source"


def test_a_bundle_without_secret_defaults_is_stored_as_it_came(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path, "Plain", config={"Host": "mx", "Password": ""})
    bundle = load_bundle(folder)
    assert without_secret_defaults(bundle) is bundle

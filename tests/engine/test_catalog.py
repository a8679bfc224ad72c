"""The platform catalog: the shipped file's promises and the lookup rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.engine.catalog import (
    DEFAULT_PLATFORM,
    Catalog,
    PlatformVersion,
    compare_versions,
    load_catalog,
)
from app.engine.errors import BadInputError

CONTRACT_VERSIONS = ("11.18.1", "11.19.0", "11.19.1", "11.20.0")


def _write_catalog(path: Path, versions: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"format": 1, "versions": versions}), encoding="utf-8")
    return path


def _entry(version: str, *capabilities: str) -> dict[str, object]:
    return {"version": version, "released": "2024-01-01", "capabilities": list(capabilities)}


class TestShippedCatalog:
    def test_has_every_version_the_contract_names(self) -> None:
        known = {entry.version for entry in load_catalog().versions}
        assert known.issuperset(CONTRACT_VERSIONS)

    def test_default_platform_is_known(self) -> None:
        assert load_catalog().get(DEFAULT_PLATFORM).version == "11.18.1"

    def test_soap_legacy_is_removed_in_11_19_0(self) -> None:
        catalog = load_catalog()
        assert "soap.legacy" in catalog.get("11.18.1").capabilities
        assert "soap.legacy" not in catalog.get("11.19.0").capabilities

    def test_newer_versions_add_capabilities(self) -> None:
        catalog = load_catalog()
        added = catalog.get("11.20.0").capabilities - catalog.get("11.18.1").capabilities
        assert "ai.agents" in added

    def test_every_entry_has_an_iso_release_date(self) -> None:
        for entry in load_catalog().versions:
            year, month, day = entry.released.split("-")
            assert (len(year), len(month), len(day)) == (4, 2, 2), entry

    def test_release_dates_follow_version_order(self) -> None:
        dates = [entry.released for entry in load_catalog().versions]
        assert dates == sorted(dates)

    def test_default_catalog_is_read_once(self) -> None:
        assert load_catalog() is load_catalog()


class TestLookups:
    @pytest.fixture
    def catalog(self, tmp_path: Path) -> Catalog:
        path = _write_catalog(
            tmp_path / "catalog.json",
            [_entry("11.10.0", "a"), _entry("11.9.2", "a", "b"), _entry("11.10.1", "a", "c")],
        )
        return load_catalog(path)

    def test_versions_sort_numerically_not_as_text(self, catalog: Catalog) -> None:
        assert [entry.version for entry in catalog.versions] == ["11.9.2", "11.10.0", "11.10.1"]

    def test_latest(self, catalog: Catalog) -> None:
        assert catalog.latest().version == "11.10.1"

    def test_get_returns_capabilities(self, catalog: Catalog) -> None:
        expected = PlatformVersion("11.9.2", "2024-01-01", frozenset({"a", "b"}))
        assert catalog.get("11.9.2") == expected

    def test_get_accepts_an_equivalent_spelling(self, catalog: Catalog) -> None:
        assert catalog.get("11.10").version == "11.10.0"

    @pytest.mark.parametrize("version", ["11.11.0", "not-a-version", ""])
    def test_get_unknown_version_names_the_known_ones(self, catalog: Catalog, version: str) -> None:
        with pytest.raises(BadInputError) as caught:
            catalog.get(version)
        assert str(caught.value) == (f"unknown platform version '{version}'; known: 11.9.2, 11.10.0, 11.10.1")
        assert caught.value.exit_code == 2

    def test_newer_than_a_known_version(self, catalog: Catalog) -> None:
        assert [entry.version for entry in catalog.newer_than("11.10.0")] == ["11.10.1"]

    def test_newer_than_a_version_between_entries(self, catalog: Catalog) -> None:
        newer = catalog.newer_than("11.9.5")
        assert [entry.version for entry in newer] == ["11.10.0", "11.10.1"]

    def test_newer_than_the_latest_is_empty(self, catalog: Catalog) -> None:
        assert catalog.newer_than("11.10.1") == ()

    def test_newer_than_a_malformed_version_is_bad_input(self, catalog: Catalog) -> None:
        with pytest.raises(BadInputError, match="not a valid platform version"):
            catalog.newer_than("eleven")


class TestCompareVersions:
    @pytest.mark.parametrize(
        ("a", "b", "expected"),
        [
            ("11.18.1", "11.19.0", -1),
            ("11.19.0", "11.18.1", 1),
            ("11.19", "11.19.0", 0),
            ("11.10.0", "11.9.9", 1),
        ],
    )
    def test_orders_by_release_numbers(self, a: str, b: str, expected: int) -> None:
        assert compare_versions(a, b) == expected

    def test_malformed_version_is_bad_input(self) -> None:
        with pytest.raises(BadInputError, match=r"'x\.y' is not a valid platform version"):
            compare_versions("x.y", "11.18.1")


class TestBrokenCatalogFiles:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(BadInputError, match="cannot read the platform catalog"):
            load_catalog(tmp_path / "absent.json")

    def test_not_json(self, tmp_path: Path) -> None:
        path = tmp_path / "catalog.json"
        path.write_text("{", encoding="utf-8")
        with pytest.raises(BadInputError, match="cannot read the platform catalog"):
            load_catalog(path)

    def test_duplicate_version(self, tmp_path: Path) -> None:
        path = _write_catalog(tmp_path / "c.json", [_entry("11.18.1"), _entry("11.18.1.0")])
        with pytest.raises(BadInputError, match="listed twice"):
            load_catalog(path)

    def test_malformed_version_entry(self, tmp_path: Path) -> None:
        path = _write_catalog(tmp_path / "c.json", [_entry("eleven")])
        with pytest.raises(BadInputError, match="cannot read the platform catalog"):
            load_catalog(path)

    def test_capabilities_must_be_names(self, tmp_path: Path) -> None:
        bad = _entry("11.18.1")
        bad["capabilities"] = "http.v1"
        path = _write_catalog(tmp_path / "c.json", [bad])
        with pytest.raises(BadInputError, match="must be a list of names"):
            load_catalog(path)

    def test_empty_catalog(self, tmp_path: Path) -> None:
        path = _write_catalog(tmp_path / "c.json", [])
        with pytest.raises(BadInputError, match="at least one version"):
            load_catalog(path)

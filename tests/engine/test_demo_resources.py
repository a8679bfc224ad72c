"""The bundled demo environment shows the cases its README promises, and nothing else breaks."""

from __future__ import annotations

import graphlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from app.engine.catalog import DEFAULT_PLATFORM, load_catalog
from app.paths import resource

SOAP_MODULES = {"CarrierGateway", "VendorCatalogSync", "Payroll"}
SYNTAX_ERROR_MODULE = "Recruiting"
FAILING_FROM_11_19 = SOAP_MODULES | {SYNTAX_ERROR_MODULE, "Tracking", "ReturnsDesk"}
MANIFEST_KEYS = {"name", "application", "description", "platform", "uses", "depends", "config"}


@dataclass(frozen=True)
class DemoModule:
    folder: Path
    manifest: dict[str, object]

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    def strings(self, key: str) -> list[str]:
        value = self.manifest.get(key, [])
        assert isinstance(value, list)
        return [str(item) for item in value]

    def syntax_errors(self) -> list[str]:
        found = []
        for source in sorted(self.folder.rglob("*.py")):
            try:
                compile(source.read_bytes(), str(source), "exec", dont_inherit=True)
            except SyntaxError as exc:
                found.append(f"{source.name}:{exc.lineno}")
        return found


@pytest.fixture(scope="module")
def demo() -> dict[str, DemoModule]:
    modules = {}
    for folder in sorted(resource("demo").iterdir()):
        if (folder / "module.toml").is_file():
            manifest = tomllib.loads((folder / "module.toml").read_text(encoding="utf-8"))
            modules[str(manifest["name"])] = DemoModule(folder, manifest)
    return modules


def _failing_on(demo: dict[str, DemoModule], version: str) -> set[str]:
    """The contract's compile rules, reduced to what the demo needs, in dependency order."""
    capabilities = load_catalog().get(version).capabilities
    graph = {name: module.strings("depends") for name, module in demo.items()}
    failing: set[str] = set()
    for name in graphlib.TopologicalSorter(graph).static_order():
        module = demo[name]
        in_range = Version(version) in SpecifierSet(str(module.manifest.get("platform", "")))
        if (
            not in_range
            or not set(module.strings("uses")) <= capabilities
            or module.syntax_errors()
            or failing.intersection(module.strings("depends"))
        ):
            failing.add(name)
    return failing


def test_about_thirty_modules_in_five_applications(demo: dict[str, DemoModule]) -> None:
    assert 25 <= len(demo) <= 35
    assert len({module.manifest["application"] for module in demo.values()}) == 5


def test_manifests_use_only_contract_keys(demo: dict[str, DemoModule]) -> None:
    for module in demo.values():
        assert set(module.manifest) <= MANIFEST_KEYS, module.name
        assert module.folder.name == module.name


def test_names_are_unique_ignoring_case(demo: dict[str, DemoModule]) -> None:
    lowered = [name.lower() for name in demo]
    assert len(lowered) == len(set(lowered))


def test_every_dependency_exists(demo: dict[str, DemoModule]) -> None:
    for module in demo.values():
        missing = set(module.strings("depends")) - set(demo)
        assert not missing, f"{module.name} depends on unknown {missing}"


def test_dependencies_have_no_cycle(demo: dict[str, DemoModule]) -> None:
    graph = {name: module.strings("depends") for name, module in demo.items()}
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError
    assert order[0] == "Common"


def test_dependencies_run_several_levels_deep(demo: dict[str, DemoModule]) -> None:
    depth: dict[str, int] = {}
    graph = {name: module.strings("depends") for name, module in demo.items()}
    for name in graphlib.TopologicalSorter(graph).static_order():
        depth[name] = 1 + max((depth[producer] for producer in graph[name]), default=0)
    assert max(depth.values()) >= 5


def test_soap_legacy_users_include_a_producer(demo: dict[str, DemoModule]) -> None:
    users = {name for name, module in demo.items() if "soap.legacy" in module.strings("uses")}
    assert users == SOAP_MODULES
    consumers = {name for name, module in demo.items() if "CarrierGateway" in module.strings("depends")}
    assert consumers == {"Tracking"}


def test_exactly_one_module_has_a_syntax_error(demo: dict[str, DemoModule]) -> None:
    broken = {name: errors for name, module in demo.items() if (errors := module.syntax_errors())}
    assert broken == {SYNTAX_ERROR_MODULE: ["screening.py:13"]}


def test_every_capability_exists_in_the_default_platform(demo: dict[str, DemoModule]) -> None:
    capabilities = load_catalog().get(DEFAULT_PLATFORM).capabilities
    for module in demo.values():
        unknown = set(module.strings("uses")) - capabilities
        assert not unknown, f"{module.name} uses {unknown}"


def test_some_modules_declare_a_platform_range(demo: dict[str, DemoModule]) -> None:
    ranged = {name for name, module in demo.items() if "platform" in module.manifest}
    assert {"TaxRules", "SalesPortal"} <= ranged


def test_only_the_syntax_error_fails_on_the_default_platform(demo: dict[str, DemoModule]) -> None:
    assert _failing_on(demo, DEFAULT_PLATFORM) == {SYNTAX_ERROR_MODULE}


@pytest.mark.parametrize("version", ["11.19.0", "11.19.1", "11.20.0"])
def test_upgrades_break_the_soap_modules_and_their_consumers(demo: dict[str, DemoModule], version: str) -> None:
    assert _failing_on(demo, version) == FAILING_FROM_11_19


def test_configs_are_strings_and_include_secrets(demo: dict[str, DemoModule]) -> None:
    keys = set()
    for module in demo.values():
        config = module.manifest.get("config", {})
        assert isinstance(config, dict)
        assert all(isinstance(value, str) for value in config.values()), module.name
        keys |= set(config)
    assert {"ApiToken", "SmtpPassword"} <= keys


def test_demo_stays_small() -> None:
    size = sum(path.stat().st_size for path in resource("demo").rglob("*") if path.is_file())
    assert size < 300 * 1024

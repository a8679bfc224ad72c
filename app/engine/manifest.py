"""``module.toml``: what a bundle declares about its module, validated (rules.md#bundle).

Everything wrong with it becomes one ``BundleError`` line naming the bundle and the problem.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from app.engine.errors import BundleError
from app.engine.names import NAME_RULE, is_valid_name, windows_name_problem

MANIFEST_NAME = "module.toml"
MAX_MANIFEST_BYTES = 64 * 1024

_MANIFEST_KEYS = ("name", "application", "description", "platform", "uses", "depends", "config", "secret_keys")


def _empty_config() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Manifest:
    """What ``module.toml`` declares, validated."""

    name: str
    application: str = ""
    description: str = ""
    platform: str = ""
    uses: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    config: Mapping[str, str] = field(default_factory=_empty_config, hash=False)
    # Config keys to treat as secret besides those whose name says so (``secret_keys``).
    secret_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__ so callers may pass lists and plain dicts.
        object.__setattr__(self, "application", self.application or self.name)
        object.__setattr__(self, "uses", tuple(self.uses))
        object.__setattr__(self, "depends", tuple(self.depends))
        object.__setattr__(self, "secret_keys", tuple(self.secret_keys))
        object.__setattr__(self, "config", MappingProxyType(dict(self.config)))

    def __reduce__(self) -> tuple[Any, ...]:
        # Read-only mapping views cannot be pickled or deep-copied; rebuild from plain data instead.
        return (Manifest.from_json, (self.to_json(),))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "application": self.application,
            "description": self.description,
            "platform": self.platform,
            "uses": list(self.uses),
            "depends": list(self.depends),
            "config": dict(self.config),
            "secret_keys": list(self.secret_keys),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            name=data["name"],
            application=data.get("application", ""),
            description=data.get("description", ""),
            platform=data.get("platform", ""),
            uses=tuple(data.get("uses", ())),
            depends=tuple(data.get("depends", ())),
            config=dict(data.get("config", {})),
            secret_keys=tuple(data.get("secret_keys", ())),
        )


def parse_manifest(text: bytes, origin: str = "bundle") -> Manifest:
    """Validate the bytes of ``module.toml``; ``origin`` prefixes error messages."""
    table = _load_toml(text, origin)
    unknown = sorted(set(table) - set(_MANIFEST_KEYS))
    if unknown:
        keys = ", ".join(repr(key) for key in unknown)
        _fail(origin, f"{MANIFEST_NAME} has unknown key(s) {keys}; allowed: {', '.join(_MANIFEST_KEYS)}")
    name = _required_name(table, origin)
    application = _optional_name(table, "application", origin) or name
    depends = _text_list(table, "depends", origin)
    _check_depends(name, depends, origin)
    config = _config(table, origin)
    return Manifest(
        name=name,
        application=application,
        description=_optional_text(table, "description", origin),
        platform=_platform(table, origin),
        uses=_text_list(table, "uses", origin),
        depends=depends,
        config=config,
        secret_keys=_secret_keys(table, config, origin),
    )


def _load_toml(text: bytes, origin: str) -> dict[str, Any]:
    if len(text) > MAX_MANIFEST_BYTES:
        _fail(origin, f"{MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    try:
        decoded = text.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        _fail(origin, f"{MANIFEST_NAME} is not UTF-8 text")
    try:
        return tomllib.loads(decoded)
    except tomllib.TOMLDecodeError as error:
        _fail(origin, f"{MANIFEST_NAME} is not valid TOML: {error}")


def _required_name(table: Mapping[str, Any], origin: str) -> str:
    if "name" not in table:
        _fail(origin, f"{MANIFEST_NAME} has no 'name'")
    name = _optional_name(table, "name", origin)
    problem = windows_name_problem(name)
    if problem:  # the module name becomes a folder on every front-end
        _fail(origin, f"name {name!r} in {MANIFEST_NAME} {problem}, so a Windows front-end cannot hold it")
    return name


def _optional_name(table: Mapping[str, Any], key: str, origin: str) -> str:
    value = _optional_text(table, key, origin)
    if key in table and not is_valid_name(value):
        _fail(origin, f"{key} {value!r} in {MANIFEST_NAME} is not valid: use {NAME_RULE}")
    return value


def _optional_text(table: Mapping[str, Any], key: str, origin: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        _fail(origin, f"'{key}' in {MANIFEST_NAME} must be text, not {_kind(value)}")
    return value


def _platform(table: Mapping[str, Any], origin: str) -> str:
    text = _optional_text(table, "platform", origin).strip()
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        _fail(origin, f"platform {text!r} in {MANIFEST_NAME} is not a valid version specifier such as '>=11.19'")
    return text


def _text_list(table: Mapping[str, Any], key: str, origin: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        _fail(origin, f"'{key}' in {MANIFEST_NAME} must be a list of non-empty text values")
    return tuple(dict.fromkeys(value))  # a repeated entry means nothing more; keep the first


def _check_depends(name: str, depends: Iterable[str], origin: str) -> None:
    for producer in depends:
        if not is_valid_name(producer):
            _fail(origin, f"depends entry {producer!r} in {MANIFEST_NAME} is not a module name ({NAME_RULE})")
        if producer.casefold() == name.casefold():
            _fail(origin, f"module {name!r} lists itself in 'depends'")


def _config(table: Mapping[str, Any], origin: str) -> dict[str, str]:
    value = table.get("config", {})
    if not isinstance(value, dict):
        _fail(origin, f"'config' in {MANIFEST_NAME} must be a table ([config]), not {_kind(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            _fail(origin, f"config value {key!r} in {MANIFEST_NAME} must be text in quotes, not {_kind(item)}")
    return dict(value)


def _secret_keys(table: Mapping[str, Any], config: Mapping[str, str], origin: str) -> tuple[str, ...]:
    keys = _text_list(table, "secret_keys", origin)
    for key in keys:
        if key not in config:  # most likely a typo, which would leave the real key unmasked
            _fail(origin, f"secret_keys entry {key!r} is not a key of [config] in {MANIFEST_NAME}")
    return keys


def _kind(value: object) -> str:
    kinds = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a table"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def _fail(origin: str, problem: str) -> NoReturn:
    raise BundleError(f"{origin}: {problem}")

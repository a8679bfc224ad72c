"""What of a bundle is stored as its source: all of it but the default values of its secret keys.

A bundle's ``[config]`` may give a secret key (one whose name says so, or listed in
``secret_keys``) a default value. That value belongs in the database, which records every
version's manifest, and in the front-ends' ``config.json``; the stored source zip is a file of the
artifact store like any other, so it holds none. When a bundle has such a value, its stored
``module.toml`` is written again from the manifest, every secret default emptied (comments and
layout are not kept; the keys, values and order that mean something are). A bundle without one
is stored exactly as it came.

Compilation only ever reads the stored source, at publish time as when it compiles again later,
and nothing it builds depends on a secret's value, so the same bundle still gives the same source
and the same artifact. Whoever deploys what compiled takes the defaults from the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace

from app.engine.bundle import Bundle
from app.engine.manifest import MANIFEST_NAME, Manifest
from app.engine.secret_keys import is_secret

STORED_NOTE = (
    "# module.toml as Deploy Center stores it: the default values of secret keys are kept in its\n"
    "# database and written to the front-ends' config.json, not here.\n"
)


def secret_defaults(manifest: Manifest) -> dict[str, str]:
    """The secret keys of ``manifest`` that have a default value, with that value."""
    return {key: value for key, value in manifest.config.items() if value and is_secret(key, manifest.secret_keys)}


def without_secret_defaults(bundle: Bundle) -> Bundle:
    """``bundle`` as its source is stored: the same, or with every secret default emptied."""
    hidden = secret_defaults(bundle.manifest)
    if not hidden:
        return bundle
    config = {key: "" if key in hidden else value for key, value in bundle.manifest.config.items()}
    manifest = replace(bundle.manifest, config=config)
    files = {**bundle.files, MANIFEST_NAME: manifest_toml(manifest)}
    return Bundle(manifest=manifest, files=files)


def manifest_toml(manifest: Manifest) -> bytes:
    """``module.toml`` for ``manifest``: reading it back gives the same manifest."""
    lines = [STORED_NOTE.rstrip("\n"), f"name = {_string(manifest.name)}"]
    lines.append(f"application = {_string(manifest.application)}")
    for key, text in (("description", manifest.description), ("platform", manifest.platform)):
        if text:
            lines.append(f"{key} = {_string(text)}")
    for key, values in (
        ("uses", manifest.uses),
        ("depends", manifest.depends),
        ("secret_keys", manifest.secret_keys),
    ):
        if values:
            lines.append(f"{key} = {_array(values)}")
    if manifest.config:
        lines.append("")
        lines.append("[config]")
        lines += [f"{_string(key)} = {_string(value)}" for key, value in manifest.config.items()]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _array(values: Iterable[str]) -> str:
    return "[" + ", ".join(_string(value) for value in values) + "]"


def _string(text: str) -> str:
    """A TOML basic string: JSON's escapes, which TOML shares, plus DEL, which TOML escapes too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007F")

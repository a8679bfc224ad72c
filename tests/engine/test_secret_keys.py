"""Deciding which configuration keys are secret and masking their values."""

from __future__ import annotations

import pytest

from app.engine.secret_keys import MASK, declared_in_manifest, is_secret, mask_config


@pytest.mark.parametrize(
    "key", ["Password", "DB_PASSWORD", "clientSecret", "AuthToken", "ApiKey", "STRIPE_API_KEY", "tokens", "apikeys"]
)
def test_keys_whose_name_says_secret_are_secret(key: str) -> None:
    assert is_secret(key)


@pytest.mark.parametrize("key", ["MaxRows", "User", "Api", "Key", "Pass", "Tok"])
def test_other_keys_are_not_secret(key: str) -> None:
    assert not is_secret(key)


def test_declared_keys_are_secret_exactly() -> None:
    assert is_secret("Pin", ["Pin"])
    assert not is_secret("pin", ["Pin"])


def test_mask_config_hides_every_secret_value_and_keeps_the_rest() -> None:
    config = {"Password": "hunter2", "Pin": "", "User": "me", "Token": "t0k"}
    assert mask_config(config, {"Pin"}) == {"Password": MASK, "Pin": MASK, "User": "me", "Token": MASK}
    assert config["Password"] == "hunter2", "the original is left alone"


def test_declared_keys_of_stored_manifests() -> None:
    assert declared_in_manifest({"name": "V", "secret_keys": ["Pin"]}) == {"Pin"}
    assert declared_in_manifest({"name": "V"}) == frozenset()  # versions stored before the field
    assert declared_in_manifest(None) == frozenset()

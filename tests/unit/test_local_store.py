"""The store contract (:mod:`store_contract`) on local disk; what only local disk shows is in test_store.py."""

from __future__ import annotations

import pytest
from store_contract import *  # noqa: F403 - the contract's tests, run here on a LocalStore

from etl.storage import LocalStore


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "base")

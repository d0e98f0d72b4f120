"""Reuse the private-store fixtures of tests/store (a store started through deploy/local/infra.sh)."""

from tests.store.conftest import store, store_built  # noqa: F401

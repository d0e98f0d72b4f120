"""The end-to-end tests use the session's real system: the ``stack``, ``mail`` and ``hooks``
fixtures of tests/conftest.py."""

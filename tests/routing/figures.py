"""Figures the routing tests report in the terminal summary (shared by conftest and the tests)."""

FIGURES: dict[str, object] = {}

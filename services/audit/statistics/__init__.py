"""Statistics the law requires, computed from the ledger's events (pure logic in each module)."""

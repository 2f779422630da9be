"""Backend differences, one small module per concern (catalog reads, locks)."""

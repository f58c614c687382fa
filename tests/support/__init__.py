"""Shared test helpers (not tests)."""

"""Signature primitives, written once and shared by every adapter: raw bytes, constant-time
compares, fail closed. Imports only gateway.errors."""

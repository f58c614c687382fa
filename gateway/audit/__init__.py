"""Audit: delivery outcomes counted in minute windows, refusals, key and secret changes.
May import tenancy, store and the shared rooms; never ingest, api or the entry points."""

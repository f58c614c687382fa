"""Carriers: the adapter contract, its toolkit (payload and time readers), discovery, generic
partners, status tables, ADAPTERS.md and the scaffold. May import signing and the shared rooms."""

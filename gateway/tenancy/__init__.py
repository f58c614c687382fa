"""Tenants and what they are allowed: tenant files, plans, limits, API keys, partner key sets.
May import carriers (generic partner configs), store and the shared rooms."""

"""Costs: the one price table, the cost shape per outcome, pricing, attribution per tenant.

May import audit, tenancy, store and the shared rooms; never ingest, api or the entry
points. ``bench/``, ``infra/dashboard.py`` and ``waybill costs`` read prices from here.
"""

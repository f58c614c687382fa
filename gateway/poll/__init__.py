"""Trackers and polling: keep shipments fresh for carriers that do not push.

``schedule`` (when to check, as data), ``trackers`` (the tracker items, due index and
leases), ``budget`` (the daily conditional counter), ``checks`` (the per-check log),
``client`` (the carrier's API: tokens, pace, calls), ``poller`` (a pass over what is due),
``service`` (what the tenant API and the CLI do with trackers).

May import ingest, notify (its outbound transport and address policy) and everything
below them.
"""

"""In-tree carrier adapters: one module per carrier, each exporting ``ADAPTER``.

Modules whose name starts with ``_`` are helpers and are not scanned.
"""

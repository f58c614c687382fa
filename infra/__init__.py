"""The Pulumi program: one ComponentResource per module, wired by ``__main__.py``."""

"""What ops do to a running gateway, in one place for the CLI and the ops console.

Each action makes the same service call and writes the same audit entry whichever
surface asked for it, to the change log of where it acts (``<state_dir>/audit.jsonl``
locally, the stack's table on AWS: :mod:`gateway.audit.changes`); only the actor differs
(``$USER`` for the CLI, ``console`` for the console).
"""

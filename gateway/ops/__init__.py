"""What ops do to a running gateway, in one place for the CLI and the ops console.

Each action makes the same service call and writes the same audit entry
(``<state_dir>/audit.jsonl``) whichever surface asked for it; only the actor differs
(``$USER`` for the CLI, ``console`` for the console).
"""

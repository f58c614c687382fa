"""Helpers that the tests and the benchmarks share: the handler over moto (harness), events,
capacity probes and the carriers' fixtures. Never in the Lambda; nothing in gateway imports it."""

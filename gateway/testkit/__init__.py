"""Helpers that the tests and the benchmarks share: the handler over moto (harness), events,
capacity probes, the carriers' fixtures, loopback receivers and the loopback carrier API.
Never in the Lambda; only the CLI imports it (``waybill carrier-api`` serves the loopback
carrier API for demos)."""

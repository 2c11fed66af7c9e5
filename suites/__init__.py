"""crigate's conformance suites: one module per check area."""

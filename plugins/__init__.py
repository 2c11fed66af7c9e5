"""crigate's pytest plugin."""

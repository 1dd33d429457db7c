"""The engine: plans nothing, decides when steps run, waits, retries, records."""

"""The Redis stream of extraction requests (only this package imports redis)."""

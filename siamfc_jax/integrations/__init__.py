"""Adapters to other evaluation toolkits (got10k, the VOT toolkit)."""

"""Metrics and benchmark protocols (OTB, GOT-10k, VOT)."""

"""Sequence readers and, later, curation, pair sampling and augmentation."""

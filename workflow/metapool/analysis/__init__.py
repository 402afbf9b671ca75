"""Configured analyses: per-study estimates, validation, selection, pooling of an analysis, sensitivity tables, multiverse."""

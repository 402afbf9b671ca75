"""Configured analyses: the config resolved into specs, per-study estimates, validation, selection, pooling of an
analysis, study flow, sensitivity tables, multiverse."""

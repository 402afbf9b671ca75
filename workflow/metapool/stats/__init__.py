"""Textbook statistics: estimators, intervals, tests; each function pinned to metafor."""

"""Judging: assignment of entries to judges, scoring and aggregation (pure functions over plain
data, tested and benchmarked without a database), and the judges' pages."""

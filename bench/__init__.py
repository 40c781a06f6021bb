"""Benchmarks (not tests): data generators and timed scenarios on PostgreSQL."""

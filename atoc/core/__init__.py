"""The kernel every app builds on: domain errors, history helpers, API plumbing."""

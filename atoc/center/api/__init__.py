"""The center's REST endpoints (``/api/v1/metrics/``)."""

"""The escalations half of the REST API: signals, incidents and the ladder's reference data."""

"""The trust endpoints of the REST API (agents, teams, pacts, evaluations, disputes)."""

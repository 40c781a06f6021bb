"""Admin of the center: systemic issues, fleet reviews, feedback, metrics, team scopes.

It also extends two admins of the floors below, which the center may import but
which must not know the center: the agent admin (a link to each agent's trust
story, and restrict/suspend/restore actions) and the incident admin (actions held
to the operator's teams, linking to a systemic issue, an estimated count for the
unfiltered million-row list). Importing the modules registers the model admins.
"""

from atoc.center.admin import access, feedback, fleet, incidents, issues, metrics, reviews

__all__ = ["access", "feedback", "fleet", "incidents", "issues", "metrics", "reviews"]

"""Admin of the center: systemic issues, fleet reviews, feedback, metrics, team scopes.

It also extends admins of the floors below, which the center may import but
which must not know the center: the agent admin (a link to each agent's trust
story, and restrict/suspend/restore actions), the incident admin (actions held
to the operator's teams, linking to a systemic issue, an estimated count for the
unfiltered million-row list), and the admins of risk acceptances, signals,
silences and disputes (held to the operator's teams). Importing the modules
registers the model admins.
"""

from atoc.center.admin import (
    access,
    feedback,
    fleet,
    incidents,
    issues,
    metrics,
    reviews,
    scoped,
)

__all__ = ["access", "feedback", "fleet", "incidents", "issues", "metrics", "reviews", "scoped"]

"""Admin for the trust app: a thin interface over the trust services and selectors.

Every write that means something goes through a service with ``actor=request.user``;
a service's refusal comes back as a form error on the field it names. Evidence
(evaluations, scores) is read-only, and no trust record can be deleted here.
One module per aggregate; importing them registers the model admins.
"""

from trust.admin import agents, disputes, evidence, pacts

__all__ = ["agents", "disputes", "evidence", "pacts"]

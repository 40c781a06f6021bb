"""trust: the evidence about agents — teams, agents, pacts, evaluations, scores, disputes."""

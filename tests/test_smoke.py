from trust.models import Agent


def test_agent_factory_creates_an_agent_holding_a_published_pact(agent):
    stored = Agent.objects.select_related("pact_version").get(pk=agent.pk)
    assert stored.pact_version.is_published
    assert stored.pact_version.obligations.count() == 1

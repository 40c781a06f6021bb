"""The incident changelist's count: the planner's estimate only for a whole large table."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from atoc.center.admin.base import EstimatedCountPaginator, table_estimate
from escalations.models import Incident
from tests.center.support import incident
from tests.factories import AgentFactory


def test_an_unfiltered_large_table_is_counted_by_estimate_and_a_filtered_one_exactly(
    actor, monkeypatch
):
    for _ in range(3):
        incident(AgentFactory(), actor)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE escalations_incident")
    assert table_estimate(Incident, "default") == 3
    monkeypatch.setattr(EstimatedCountPaginator, "threshold", 2)

    with CaptureQueriesContext(connection) as captured:
        assert EstimatedCountPaginator(Incident.objects.order_by("-id"), 50).count == 3
    assert not any("COUNT(" in q["sql"] for q in captured.captured_queries)

    filtered = Incident.objects.filter(state="open").order_by("-id")
    with CaptureQueriesContext(connection) as captured:
        assert EstimatedCountPaginator(filtered, 50).count == 3
    assert any("COUNT(" in q["sql"] for q in captured.captured_queries)


def test_a_small_table_is_counted_exactly(actor):
    incident(AgentFactory(), actor)
    with CaptureQueriesContext(connection) as captured:
        assert EstimatedCountPaginator(Incident.objects.order_by("-id"), 50).count == 1
    assert any("COUNT(" in q["sql"] for q in captured.captured_queries)


def test_the_incident_changelist_uses_it(admin_client):
    response = admin_client.get("/admin/escalations/incident/")
    assert isinstance(response.context["cl"].paginator, EstimatedCountPaginator)

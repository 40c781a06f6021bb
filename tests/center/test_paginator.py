"""The incident changelist's count: the planner's estimate only for a whole large table."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from atoc.center.admin.base import EstimatedCountPaginator, PageFirstPaginator, table_estimate
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
    assert isinstance(response.context["cl"].paginator, PageFirstPaginator)


def test_a_page_first_page_holds_the_same_rows_in_the_same_order_with_their_joins(actor):
    for _ in range(7):
        incident(AgentFactory(), actor)
    listed = Incident.objects.select_related("agent__team", "severity").order_by(
        "agent__team__name", "-id"
    )
    expected = [row.pk for row in listed]

    pages = PageFirstPaginator(listed, 3)
    seen = []
    with CaptureQueriesContext(connection) as captured:
        for number in pages.page_range:
            page = pages.page(number)
            seen += [(row.pk, row.agent.team.name, row.severity.name) for row in page]
    assert [pk for pk, _, _ in seen] == expected
    # A count, then per page the keys and the rows with their joins: nothing per row.
    assert len(captured.captured_queries) == 1 + 2 * pages.num_pages

"""Routes of the trust endpoints, included under ``/api/v1/``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from trust.api import views

router = SimpleRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("agents", views.AgentViewSet, basename="agent")
router.register("pacts", views.PactViewSet, basename="pact")
router.register("evaluations", views.EvaluationViewSet, basename="evaluation")
router.register("disputes", views.DisputeViewSet, basename="dispute")

pact_versions = views.PactVersionViewSet.as_view({"get": "list", "post": "create"})
pact_version = views.PactVersionViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("trust/keys/", views.TrustKeysView.as_view(), name="trust-keys"),
    path("pacts/<int:pact_id>/versions/", pact_versions, name="pact-version-list"),
    path("pacts/<int:pact_id>/versions/<int:number>/", pact_version, name="pact-version-detail"),
    *router.urls,
]

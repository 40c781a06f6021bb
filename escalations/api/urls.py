"""Routes of the escalations endpoints, included under ``/api/v1/``."""

from rest_framework.routers import SimpleRouter

from escalations.api import views

router = SimpleRouter()
router.register("signals", views.SignalViewSet, basename="signal")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("severity-levels", views.SeverityLevelViewSet, basename="severity-level")
router.register("controls", views.ControlViewSet, basename="control")
router.register("counterparts", views.CounterpartViewSet, basename="counterpart")
router.register("routing-rules", views.RoutingRuleViewSet, basename="routing-rule")

urlpatterns = router.urls

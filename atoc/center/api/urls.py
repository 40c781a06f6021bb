"""Routes of the center's endpoints, included under ``/api/v1/``."""

from rest_framework.routers import SimpleRouter

from atoc.center.api import views

router = SimpleRouter()
router.register("metrics", views.MetricSnapshotViewSet, basename="metric")

urlpatterns = router.urls

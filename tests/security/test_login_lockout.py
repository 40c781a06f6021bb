import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _login(client, password):
    return client.post(
        reverse("admin:login"),
        {"username": "ops-lead", "password": password, "next": "/admin/"},
        REMOTE_ADDR="10.0.0.7",
    )


def test_admin_login_locks_out_after_repeated_failures(client, settings):
    user = UserFactory(username="ops-lead", is_staff=True)
    user.set_password("right-horse-battery")
    user.save()

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()

    assert _login(client, "wrong").status_code == 429
    locked = _login(client, "right-horse-battery")

    assert locked.status_code == 429
    assert "Sign-in temporarily locked" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_successful_login_before_the_limit_resets_the_count(client, settings):
    user = UserFactory(username="ops-lead", is_staff=True)
    user.set_password("right-horse-battery")
    user.save()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "wrong")

    response = _login(client, "right-horse-battery")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)

"""The API throttle: a sliding-window estimate over two counters per key.

The clock is the throttle's own timer, set by hand, so nothing depends on how
fast the test runs.
"""

import uuid

import pytest
from django.test import override_settings

from atoc.core.api.throttling import ApiKeyRateThrottle

pytestmark = pytest.mark.django_db


class _Throttle(ApiKeyRateThrottle):
    clock = 0.0

    def timer(self):
        return self.clock

    def get_cache_key(self, request, view):
        return request


def _rates(rate):
    from django.conf import settings

    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"api_key": rate, "anonymous": rate},
        }
    )


def _ask(key, at):
    throttle = _Throttle()
    throttle.clock = at
    return throttle.allow_request(key, None), throttle


def test_budget_of_a_window_then_refusals_with_retry_after():
    key = f"throttle-test-{uuid.uuid4().hex}"
    with _rates("3/min"):
        start = 60_000 * 60.0  # the start of a window
        assert [_ask(key, start + s)[0] for s in (1, 2, 3)] == [True, True, True]
        allowed, throttle = _ask(key, start + 10)
        assert not allowed
        assert throttle.wait() == 50  # until the window ends


def test_previous_window_counts_by_its_overlap_with_the_last_period():
    key = f"throttle-test-{uuid.uuid4().hex}"
    with _rates("4/min"):
        start = 60_000 * 60.0  # the start of a window
        assert all(_ask(key, start + 50 + s)[0] for s in (0, 1, 2, 3))
        # 15 s into the next window, 3/4 of the previous one's 4 still count: 3 + 1.
        assert _ask(key, start + 75)[0]
        assert not _ask(key, start + 76)[0]  # 2.93 + 2 > 4; the refusal is not counted
        assert _ask(key, start + 90)[0]  # half-way: 2 + 2
        assert _ask(key, start + 105)[0]  # a quarter: 1 + 3
        assert not _ask(key, start + 106)[0]
        # Two windows on, the old counts are gone.
        assert all(_ask(key, start + 180 + s)[0] for s in (0, 1, 2, 3))
        assert not _ask(key, start + 184)[0]


def test_a_client_cannot_leave_the_anonymous_limit_by_writing_x_forwarded_for(client):
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"
    with _rates("3/min"):
        codes = [
            client.get(
                "/api/v1/trust/keys/", REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"
            ).status_code
            for i in range(5)
        ]
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "192.0.2.1"),  # no proxy: the header is the client's own words
        (1, None, "192.0.2.1"),
        (1, "203.0.113.9", "203.0.113.9"),  # what the load balancer saw
        (1, "10.6.6.6, 203.0.113.9", "203.0.113.9"),  # a prefix the client wrote is ignored
        (2, "10.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
    ],
)
def test_the_client_address_is_the_one_the_trusted_proxies_saw(
    rf, settings, proxies, forwarded, expected
):
    from atoc.core.clients import client_ip

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    assert client_ip(rf.get("/", REMOTE_ADDR="192.0.2.1", **headers)) == expected

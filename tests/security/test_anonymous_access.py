"""Every URL the project serves refuses anonymous callers, except a short allowlist.

The test walks the URL configuration itself and builds a sample path for every
pattern, so an endpoint or admin page added later is checked without anyone
remembering to add a test for it.
"""

import re

import pytest
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

pytestmark = pytest.mark.django_db

# Public on purpose, each with its reason (URL names, namespaced where they are).
PUBLIC = {
    "admin:login": "the sign-in page",
    "admin:logout": "signing out needs no session",
    "admin:view_on_site": "Django's redirect to an object's public URL; answers 404 here",
    "api-schema": "the published API contract",
    "api-docs": "the API documentation page (local static assets)",
    "trust-keys": "public keys, so anyone can verify a trust statement offline",
    "healthz": "load balancer health check; reveals no data",
}
SAMPLES = {"format": "json", "app_label": "trust"}


def _route_sample(route: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLES.get(m.group(1), "1"), route)


def _regex_sample(regex: str) -> str:
    text = regex.lstrip("^").rstrip("$")
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLES.get(m.group(1), "1"), text)
    text = re.sub(r"\([^)]*\)", "1", text)
    return text.replace("/?", "/").replace("\\.", ".").replace("\\", "")


def _sample(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return _route_sample(str(pattern))
    if isinstance(pattern, RegexPattern):
        return _regex_sample(pattern.regex.pattern)
    return str(pattern)


def _walk(resolver=None, prefix="/", namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        path = prefix + _sample(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, path, ns)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}{entry.name}" if entry.name else ""), path


def _all_urls():
    urls, unresolved = [], []
    for name, path in _walk():
        try:
            resolve(path)
        except Resolver404:
            unresolved.append(path)
            continue
        urls.append((name, path))
    return urls, unresolved


def test_a_sample_path_is_built_for_every_pattern():
    urls, unresolved = _all_urls()
    assert unresolved == []
    assert len(urls) > 50


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_callers_are_refused_everywhere_but_the_allowlist(client, method):
    urls, _ = _all_urls()
    leaks = []
    for name, path in urls:
        if name in PUBLIC:
            continue
        response = getattr(client, method)(path)
        if path.startswith("/api/"):
            refused = response.status_code == 401
        else:
            location = response.headers.get("Location", "")
            refused = response.status_code == 403 or (
                response.status_code == 302 and "/login/" in location
            )
        if not refused:
            leaks.append(f"{method.upper()} {path} ({name or 'unnamed'}) -> {response.status_code}")
    assert leaks == []

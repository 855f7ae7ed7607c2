"""/metrics is for Prometheus, which scrapes each instance directly: a request that came
through a proxy (on Kubernetes the Ingress routes every path to the API) is refused."""

from __future__ import annotations

import httpx
import pytest


def test_prometheus_scraping_directly_gets_the_metrics(client: httpx.Client) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "http_requests_total" in answer.text


@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "203.0.113.7"},
        {"x-forwarded-for": "203.0.113.7, 10.0.0.2"},
        {"Forwarded": "for=203.0.113.7;proto=https"},
    ],
)
def test_a_request_through_a_proxy_is_refused(client: httpx.Client, header: dict[str, str]) -> None:
    answer = client.get("/metrics", headers=header)
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:learnbot:problem:metrics-not-public"
    assert "http_requests_total" not in answer.text

from __future__ import annotations

import httpx

PROBLEM = "application/problem+json"


def test_health_answers_ok(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_database_answers_and_schema_is_current(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_openapi_document_lists_every_endpoint(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    expected = {
        "/health": {"get"},
        "/ready": {"get"},
        "/auth/telegram": {"post"},
        "/me": {"get"},
        "/me/accounts": {"post"},
        "/me/accounts/{provider}": {"delete"},
        "/me/accounts/{provider}/authorize": {"post"},
        "/auth/oauth/{provider}/callback": {"get"},
        "/auth/oauth/providers": {"get"},
        "/admin/users": {"get"},
        "/admin/users/{telegram_id}/block": {"post"},
        "/admin/users/{telegram_id}/unblock": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    assert "/openapi.json" not in paths
    sign_in = paths["/auth/telegram"]["post"]
    assert {"200", "401", "403", "413", "422"} <= set(sign_in["responses"])
    assert PROBLEM in sign_in["responses"]["401"]["content"]
    assert paths["/me"]["get"]["security"] == [{"tma": []}]


def test_interactive_docs_are_served(client: httpx.Client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_unknown_path_is_a_problem_document(client: httpx.Client) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert {"type", "title", "detail"} <= set(body)


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert "GET" in response.headers["allow"]

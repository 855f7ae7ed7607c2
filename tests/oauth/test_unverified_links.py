"""POST /me/accounts stores what the client says: refused by default, kept for development
behind OAUTH_ALLOW_UNVERIFIED_LINKS, and what it stores is marked unverified."""

from __future__ import annotations

from pathlib import Path

from asgi_app import app_client
from service_process import server_env, tma

BODY = {"provider": "github", "external_id": "583231", "display_name": "octocat"}


async def test_a_client_supplied_link_is_refused_by_default(tmp_path: Path) -> None:
    async with app_client(server_env(f"sqlite:///{tmp_path}/learnbot.db")) as client:
        headers = tma(42)
        response = await client.post("/me/accounts", json=BODY, headers=headers)
        me = await client.get("/me", headers=headers)

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:learnbot:problem:link-unverified-refused"
    assert "/me/accounts/{provider}/authorize" in problem["detail"]
    assert me.json()["accounts"] == []


async def test_in_development_a_client_supplied_link_is_stored_unverified(
    tmp_path: Path,
) -> None:
    env = server_env(f"sqlite:///{tmp_path}/learnbot.db", OAUTH_ALLOW_UNVERIFIED_LINKS="1")
    async with app_client(env) as client:
        headers = tma(42)
        response = await client.post("/me/accounts", json=BODY, headers=headers)
        me = await client.get("/me", headers=headers)

    assert response.status_code == 201
    assert response.json()["verified"] is False
    assert [a["verified"] for a in me.json()["accounts"]] == [False]

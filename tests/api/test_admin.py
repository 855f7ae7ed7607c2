from __future__ import annotations

import httpx
import pytest

from asgi_app import app_client
from service_process import ADMIN_ID, init_data, new_telegram_id, server_env, tma

PROBLEM = "application/problem+json"


def sign_in(client: httpx.Client, telegram_id: int) -> None:
    response = client.post("/auth/telegram", json={"init_data": init_data(telegram_id)})
    assert response.status_code == 200


def test_non_admin_is_403(client: httpx.Client) -> None:
    headers = tma(new_telegram_id())
    for method, path in (
        ("GET", "/admin/users"),
        ("POST", "/admin/users/1/block"),
        ("POST", "/admin/users/1/unblock"),
    ):
        response = client.request(method, path, headers=headers)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == PROBLEM


def test_admin_endpoints_need_sign_in(client: httpx.Client) -> None:
    assert client.get("/admin/users").status_code == 401


def test_users_are_listed_newest_first_across_pages(client: httpx.Client) -> None:
    created = [new_telegram_id() for _ in range(5)]
    for telegram_id in created:
        sign_in(client, telegram_id)
    admin = tma(ADMIN_ID)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/admin/users", params=params, headers=admin)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["users"]) <= 2
        seen.extend(u["telegram_id"] for u in body["users"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    positions = [seen.index(t) for t in created]
    assert positions == sorted(positions, reverse=True)


def test_bad_paging_parameters_are_422(client: httpx.Client) -> None:
    admin = tma(ADMIN_ID)
    for params in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"cursor": "nope"}):
        response = client.get("/admin/users", params=params, headers=admin)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == PROBLEM


def test_block_and_unblock(client: httpx.Client) -> None:
    telegram_id = new_telegram_id()
    sign_in(client, telegram_id)
    admin = tma(ADMIN_ID)
    blocked = client.post(f"/admin/users/{telegram_id}/block", headers=admin)
    assert blocked.status_code == 200
    assert blocked.json()["is_blocked"] is True
    assert client.get("/me", headers=tma(telegram_id)).status_code == 403

    unblocked = client.post(f"/admin/users/{telegram_id}/unblock", headers=admin)
    assert unblocked.json()["is_blocked"] is False
    assert client.get("/me", headers=tma(telegram_id)).status_code == 200


def test_a_blocked_users_sign_in_changes_nothing(client: httpx.Client) -> None:
    telegram_id = new_telegram_id()
    sign_in(client, telegram_id)
    before = client.post(f"/admin/users/{telegram_id}/block", headers=tma(ADMIN_ID)).json()

    refused = client.post(
        "/auth/telegram", json={"init_data": init_data(telegram_id, first_name="Mallory")}
    )
    assert refused.status_code == 403
    assert client.get("/me", headers=tma(telegram_id, first_name="Eve")).status_code == 403

    after = client.post(f"/admin/users/{telegram_id}/unblock", headers=tma(ADMIN_ID)).json()
    assert after == {**before, "is_blocked": False}


def test_blocking_an_unknown_user_is_404(client: httpx.Client) -> None:
    admin = tma(ADMIN_ID)
    for telegram_id in (new_telegram_id(), 2**70, 0):
        response = client.post(f"/admin/users/{telegram_id}/block", headers=admin)
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


async def test_an_admin_cannot_block_themselves_nor_another_admin(api_database_url: str) -> None:
    other_admin = new_telegram_id()
    env = server_env(api_database_url, ADMIN_TELEGRAM_IDS=f"{ADMIN_ID},{other_admin}")
    async with app_client(env) as client:
        signed = await client.post("/auth/telegram", json={"init_data": init_data(other_admin)})
        assert signed.status_code == 200
        for telegram_id, detail in ((ADMIN_ID, "your own"), (other_admin, "administrator")):
            refused = await client.post(f"/admin/users/{telegram_id}/block", headers=tma(ADMIN_ID))
            assert refused.status_code == 409
            assert refused.headers["content-type"] == PROBLEM
            assert refused.json()["type"] == "urn:learnbot:problem:admin-not-blockable"
            assert detail in refused.json()["detail"]
        for telegram_id in (ADMIN_ID, other_admin):
            assert (await client.get("/admin/users", headers=tma(telegram_id))).status_code == 200


def test_the_block_endpoint_documents_409(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "409" in paths["/admin/users/{telegram_id}/block"]["post"]["responses"]


@pytest.mark.parametrize(
    "params",
    [{"limit": "9" * 4301}, {"limit": "1" + "0" * 5000}, {"cursor": "9" * 4301}],
    ids=["limit-4301-nines", "limit-5001-digits", "cursor-4301-nines"],
)
def test_huge_numbers_in_parameters_are_422(client: httpx.Client, params: dict[str, str]) -> None:
    response = client.get("/admin/users", params=params, headers=tma(ADMIN_ID))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["field"] == next(iter(params))


def test_leading_zeros_do_not_count_against_the_limit(client: httpx.Client) -> None:
    response = client.get("/admin/users", params={"limit": "0" * 5000 + "2"}, headers=tma(ADMIN_ID))
    assert response.status_code == 200, response.text
    assert len(response.json()["users"]) <= 2


@pytest.mark.parametrize("cursor", ["9423869094043641", "9" * 16])
def test_every_cursor_the_schema_documents_is_accepted(client: httpx.Client, cursor: str) -> None:
    sign_in(client, new_telegram_id())
    response = client.get("/admin/users", params={"cursor": cursor}, headers=tma(ADMIN_ID))
    assert response.status_code == 200, response.text
    assert response.json()["users"]

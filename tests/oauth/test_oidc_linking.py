"""Linking through a real OpenID provider (oidc-provider), driven as a browser drives it: the
authorization URL, sign-in and consent at the provider, the callback, the code exchange with
the PKCE verifier, the ID token's verification, the stored link; then every way it must fail."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from linking_service import (
    ID_TOKEN_CHANGES,
    LinkingService,
    client_id,
    login,
    query_of,
    state_hash,
)
from oidc_provider import OpenIdProvider
from service_process import ADMIN_ID, new_telegram_id, tma

PROBLEM = "application/problem+json"


def problem_type(slug: str) -> str:
    return f"urn:learnbot:problem:{slug}"


def test_a_user_links_the_account_the_provider_proves(
    linking: LinkingService, op: OpenIdProvider
) -> None:
    headers = tma(new_telegram_id())
    linked_before = linking.metric("op", "linked")

    authorization_url = linking.authorize("op", headers)
    sent = query_of(authorization_url)
    assert authorization_url.startswith(op.issuer + "/auth?")
    assert sent["response_type"] == "code"
    assert sent["client_id"] == client_id("op")
    assert sent["redirect_uri"] == f"{linking.url}/auth/oauth/op/callback"
    assert sent["scope"].split() == ["openid", "profile"]
    assert sent["code_challenge_method"] == "S256"
    assert len(sent["code_challenge"]) == 43
    assert len(sent["state"]) >= 32
    assert len(sent["nonce"]) >= 32
    (stored,) = linking.sql(
        "SELECT provider, code_verifier, nonce FROM oauth_states WHERE state_hash = %s",
        (state_hash(sent["state"]),),
    )
    assert stored[0] == "op"
    assert stored[2] == sent["nonce"]

    subject = login("alice")
    callback = linking.sign_in(authorization_url, subject)
    returned = query_of(callback)
    assert returned["state"] == sent["state"]
    assert returned["iss"] == op.issuer
    response = linking.get(callback)

    assert response.status_code == 201, response.text
    account = response.json()
    assert account["provider"] == "op"
    # The subject the provider proved; the name from its user info, as it holds it.
    assert account["external_id"] == subject
    assert account["display_name"] == "Alice Liddell"
    assert account["verified"] is True
    assert response.headers["cache-control"] == "no-store"
    assert linking.accounts(headers) == [account]
    assert linking.sql(
        "SELECT count(*) FROM oauth_states WHERE state_hash = %s", (state_hash(sent["state"]),)
    ) == [(0,)]
    assert linking.metric("op", "linked") == linked_before + 1


def test_relinking_the_same_subject_refreshes_the_name(linking: LinkingService) -> None:
    telegram_id = new_telegram_id()
    headers = tma(telegram_id)
    subject = login("bob")
    assert linking.link("op", headers, subject).status_code == 201
    linking.sql(
        "UPDATE linked_accounts SET display_name = 'stale' WHERE provider = 'op' "
        "AND user_id = (SELECT id FROM users WHERE telegram_id = %s)",
        (telegram_id,),
    )

    again = linking.link("op", headers, subject)

    assert again.status_code == 200, again.text
    assert again.json()["display_name"] == "Bob"
    assert [a["display_name"] for a in linking.accounts(headers)] == ["Bob"]


def test_a_subject_linked_to_another_user_is_a_conflict(linking: LinkingService) -> None:
    subject = login("carol")
    owner, other = tma(new_telegram_id()), tma(new_telegram_id())
    assert linking.link("op", owner, subject).status_code == 201
    conflicts_before = linking.metric("op", "conflict")

    response = linking.link("op", other, subject)

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == problem_type("account-conflict")
    assert linking.accounts(other) == []
    assert [a["external_id"] for a in linking.accounts(owner)] == [subject]
    assert linking.metric("op", "conflict") == conflicts_before + 1


def test_a_proof_takes_the_account_from_an_unverified_claim(linking: LinkingService) -> None:
    """The first user to claim an account by typing its id no longer keeps the real owner out."""
    subject = login("dave")
    squatter_id = new_telegram_id()
    squatter, owner = tma(squatter_id), tma(new_telegram_id())
    linking.accounts(squatter)  # signs the squatter in
    linking.sql(
        "INSERT INTO linked_accounts (user_id, provider, external_id, linked_at) "
        "SELECT id, 'op', %s, %s FROM users WHERE telegram_id = %s",
        (subject, datetime.now(UTC).isoformat(), squatter_id),
    )
    assert [a["verified"] for a in linking.accounts(squatter)] == [False]

    response = linking.link("op", owner, subject)

    assert response.status_code == 201, response.text
    assert linking.accounts(squatter) == []
    assert [(a["external_id"], a["verified"]) for a in linking.accounts(owner)] == [(subject, True)]


def test_the_user_cancelling_at_the_provider_is_access_denied(linking: LinkingService) -> None:
    headers = tma(new_telegram_id())
    callback = linking.sign_in(linking.authorize("op", headers), login("alice"), cancel=True)
    assert query_of(callback)["error"] == "access_denied"
    denied_before = linking.metric("op", "denied")

    response = linking.get(callback)

    assert response.status_code == 403, response.text
    assert response.json()["type"] == problem_type("link-denied")
    assert linking.accounts(headers) == []
    assert linking.metric("op", "denied") == denied_before + 1
    # The authorization is over: its state was used.
    assert linking.get(callback).json()["type"] == problem_type("link-state-unknown")


@pytest.mark.parametrize("query", ["", "?code=abc", "?state=&code=abc", "?state=a%00b&code=x"])
def test_a_callback_without_a_usable_state_is_422(linking: LinkingService, query: str) -> None:
    response = linking.get(f"{linking.url}/auth/oauth/op/callback{query}")

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["field"] == "state"


def test_an_unknown_state_is_refused(linking: LinkingService) -> None:
    state = secrets.token_urlsafe(32)
    response = linking.get(f"{linking.url}/auth/oauth/op/callback?code=abc&state={state}")

    assert response.status_code == 400, response.text
    assert response.json()["type"] == problem_type("link-state-unknown")


def test_a_state_is_used_once(linking: LinkingService) -> None:
    headers = tma(new_telegram_id())
    callback = linking.sign_in(linking.authorize("op", headers), login("alice"))
    assert linking.get(callback).status_code == 201

    replayed = linking.get(callback)

    assert replayed.status_code == 400, replayed.text
    assert replayed.json()["type"] == problem_type("link-state-unknown")


def test_an_expired_state_is_refused(linking: LinkingService) -> None:
    headers = tma(new_telegram_id())
    authorization_url = linking.authorize("op", headers)
    callback = linking.sign_in(authorization_url, login("bob"))
    linking.sql(
        "UPDATE oauth_states SET expires_at = %s WHERE state_hash = %s",
        (
            (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="microseconds"),
            state_hash(query_of(authorization_url)["state"]),
        ),
    )

    response = linking.get(callback)

    assert response.status_code == 400, response.text
    assert response.json()["type"] == problem_type("link-state-expired")
    assert linking.accounts(headers) == []


def test_a_state_of_another_provider_is_refused(linking: LinkingService) -> None:
    headers = tma(new_telegram_id())
    callback = linking.sign_in(linking.authorize("op", headers), login("alice"))
    foreign = callback.replace("/auth/oauth/op/callback", "/auth/oauth/nonce/callback")

    response = linking.get(foreign)

    assert response.status_code == 400, response.text
    assert response.json()["type"] == problem_type("link-state-mismatch")
    # Presented once, to the wrong provider, it is used up.
    assert linking.get(callback).json()["type"] == problem_type("link-state-unknown")
    assert linking.accounts(headers) == []


def test_a_block_ends_the_users_pending_links(linking: LinkingService) -> None:
    telegram_id = new_telegram_id()
    callback = linking.sign_in(linking.authorize("op", tma(telegram_id)), login("alice"))
    with linking.client() as http:
        blocked = http.post(f"/admin/users/{telegram_id}/block", headers=tma(ADMIN_ID))
    assert blocked.status_code == 200, blocked.text

    response = linking.get(callback)

    assert response.status_code == 400, response.text
    assert response.json()["type"] == problem_type("link-state-unknown")
    assert linking.sql(
        "SELECT count(*) FROM linked_accounts WHERE user_id = "
        "(SELECT id FROM users WHERE telegram_id = %s)",
        (telegram_id,),
    ) == [(0,)]


CHECKS = {
    "forged": "signature",
    "altered": "signature",
    "expired": "expired",
    "audience": "audience",
    "nonce": "nonce",
    "issuer": "issuer",
}


@pytest.mark.parametrize("provider", sorted(CHECKS))
def test_an_id_token_changed_on_its_way_is_rejected(
    linking: LinkingService, op: OpenIdProvider, provider: str
) -> None:
    """The provider issues a good token; on its way (tests/oidc/provider/server.mjs) it is
    signed with another key of the same kid, or its subject is changed under the provider's
    signature, or one claim is changed and signed again with the provider's own key."""
    assert ID_TOKEN_CHANGES[provider] == provider
    headers = tma(new_telegram_id())
    rejected_before = linking.metric(provider, "id_token_rejected")

    response = linking.link(provider, headers, login("alice"))

    assert response.status_code == 502, response.text
    body = response.json()
    assert body["type"] == problem_type("link-id-token-rejected")
    assert body["check"] == CHECKS[provider]
    assert linking.accounts(headers) == []
    assert linking.metric(provider, "id_token_rejected") == rejected_before + 1


def test_a_code_bound_to_another_verifier_fails_pkce(
    linking: LinkingService, op: OpenIdProvider
) -> None:
    """Code injection: the attacker's code, issued for the attacker's PKCE challenge, sent to
    the victim's callback with the victim's state. The service exchanges it with the victim's
    verifier, and the provider refuses."""
    victim, attacker = tma(new_telegram_id()), tma(new_telegram_id())
    victim_state = query_of(linking.authorize("op", victim))["state"]
    attacker_callback = linking.sign_in(linking.authorize("op", attacker), login("mallory"))
    attacker_state = query_of(attacker_callback)["state"]

    response = linking.get(attacker_callback.replace(attacker_state, victim_state))

    assert response.status_code == 400, response.text
    assert response.json()["type"] == problem_type("link-code-rejected")
    assert linking.accounts(victim) == []
    causes = [e.get("cause") for e in op.events() if e.get("event") == "grant.error"]
    assert "code_verifier does not match code_challenge" in causes


@pytest.mark.parametrize("issuer", [None, "http://127.0.0.1:9/another-issuer"])
def test_a_callback_must_name_the_provider_as_its_issuer(
    linking: LinkingService, issuer: str | None
) -> None:
    """RFC 9207: a provider that promises `iss` in its answers sends it, with its own issuer;
    an answer without it, or naming another, may come from another provider (a mix-up)."""
    headers = tma(new_telegram_id())
    callback = linking.sign_in(linking.authorize("op", headers), login("alice"))
    sent_issuer = query_of(callback)["iss"]
    changed = callback.replace(
        f"&iss={quote(sent_issuer, safe='')}", "" if issuer is None else f"&iss={quote(issuer)}"
    )
    assert changed != callback

    response = linking.get(changed)

    assert response.status_code == 502, response.text
    assert response.json()["type"] == problem_type("link-provider-error")
    assert linking.accounts(headers) == []


def test_an_unknown_provider_is_404(linking: LinkingService) -> None:
    with linking.client() as http:
        authorize = http.post("/me/accounts/nope/authorize", headers=tma(new_telegram_id()))
        callback = http.get("/auth/oauth/nope/callback?state=x&code=y")

    for response in (authorize, callback):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == PROBLEM
        assert "op" in response.json()["providers"]


def test_the_providers_are_listed(linking: LinkingService) -> None:
    with linking.client() as http:
        listed = http.get("/auth/oauth/providers").json()["providers"]

    assert {"id": "op", "name": "Op", "kind": "oidc"} in listed
    assert {"id": "gh", "name": "GitHub", "kind": "github"} in listed


def test_authorize_needs_a_signed_in_user(linking: LinkingService) -> None:
    with linking.client() as http:
        response = http.post("/me/accounts/op/authorize")

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM

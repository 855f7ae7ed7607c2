"""Linking a GitHub account, against a stand-in that speaks GitHub's documented OAuth app
endpoints (tests/github_standin.py): GitHub has no ID token; its numeric user id is the
subject, read from its API with the access token."""

from __future__ import annotations

from github_standin import GitHubStandIn
from linking_service import CLIENT_SECRET, GITHUB_CLIENT_ID, LinkingService, query_of
from service_process import new_telegram_id, tma


def test_a_user_links_their_github_account(linking: LinkingService, github: GitHubStandIn) -> None:
    linking.sql("DELETE FROM linked_accounts WHERE provider = 'gh'")
    headers = tma(new_telegram_id())

    authorization_url = linking.authorize("gh", headers)
    sent = query_of(authorization_url)
    assert authorization_url.startswith(github.url + "/login/oauth/authorize?")
    assert sent["client_id"] == GITHUB_CLIENT_ID
    assert sent["redirect_uri"] == f"{linking.url}/auth/oauth/gh/callback"
    assert sent["code_challenge_method"] == "S256"
    assert "nonce" not in sent
    assert "scope" not in sent
    callback = linking.sign_in(authorization_url, "octocat")
    response = linking.get(callback)

    assert response.status_code == 201, response.text
    account = response.json()
    assert (account["provider"], account["external_id"]) == ("gh", "583231")
    assert (account["display_name"], account["verified"]) == ("octocat", True)
    assert linking.accounts(headers) == [account]
    # Exchanged with the secret and the verifier in the body, as GitHub documents it.
    request = github.token_requests[-1]
    assert request["client_secret"] == CLIENT_SECRET
    assert request["code"] == query_of(callback)["code"]
    assert len(request["code_verifier"]) >= 43
    assert linking.metric("gh", "linked") >= 1


def test_a_github_account_of_another_user_is_a_conflict(linking: LinkingService) -> None:
    linking.sql("DELETE FROM linked_accounts WHERE provider = 'gh'")
    owner, other = tma(new_telegram_id()), tma(new_telegram_id())
    assert linking.link("gh", owner, "hubot").status_code == 201

    response = linking.link("gh", other, "hubot")

    assert response.status_code == 409, response.text
    assert response.json()["type"] == "urn:learnbot:problem:account-conflict"
    assert linking.accounts(other) == []


def test_denying_access_at_github_is_access_denied(linking: LinkingService) -> None:
    headers = tma(new_telegram_id())
    callback = linking.sign_in(linking.authorize("gh", headers), "octocat", cancel=True)
    assert query_of(callback)["error"] == "access_denied"

    response = linking.get(callback)

    assert response.status_code == 403, response.text
    assert response.json()["type"] == "urn:learnbot:problem:link-denied"
    assert response.json()["detail"] == (
        "GitHub did not authorize the link: the sign-in was cancelled or refused."
    )


def test_a_code_github_refuses_is_rejected(linking: LinkingService) -> None:
    """GitHub answers a bad code (used, expired, or a PKCE verifier that does not match) with
    200 and error=bad_verification_code."""
    victim, attacker = tma(new_telegram_id()), tma(new_telegram_id())
    victim_state = query_of(linking.authorize("gh", victim))["state"]
    attacker_callback = linking.sign_in(linking.authorize("gh", attacker), "hubot")
    attacker_state = query_of(attacker_callback)["state"]

    response = linking.get(attacker_callback.replace(attacker_state, victim_state))

    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:learnbot:problem:link-code-rejected"
    assert linking.accounts(victim) == []

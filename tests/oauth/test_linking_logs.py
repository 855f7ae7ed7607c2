"""No code, token, state, nonce, PKCE verifier or client secret in any line of the service's
log, after whole flows through both kinds of provider (the service logs at DEBUG here)."""

from __future__ import annotations

from github_standin import GitHubStandIn
from linking_service import CLIENT_SECRET, LinkingService, login, query_of, state_hash
from oidc_provider import OpenIdProvider
from service_process import new_telegram_id, tma


def test_the_log_holds_no_secret_of_a_link(
    linking: LinkingService, op: OpenIdProvider, github: GitHubStandIn
) -> None:
    secrets_seen: set[str] = {CLIENT_SECRET}
    for provider, subject in (("op", login("alice")), ("gh", "octocat"), ("nonce", login("bob"))):
        linking.sql(
            "DELETE FROM linked_accounts WHERE provider = %s AND external_id = %s",
            (provider, "583231" if provider == "gh" else subject),
        )
        headers = tma(new_telegram_id())
        authorization_url = linking.authorize(provider, headers)
        sent = query_of(authorization_url)
        ((verifier, nonce),) = linking.sql(
            "SELECT code_verifier, nonce FROM oauth_states WHERE state_hash = %s",
            (state_hash(sent["state"]),),
        )
        callback = linking.sign_in(authorization_url, subject)
        response = linking.get(callback)
        assert response.status_code in (201, 502), response.text
        secrets_seen |= {
            sent["state"],
            sent["code_challenge"],
            query_of(callback)["code"],
            verifier,
        }
        if nonce is not None:
            secrets_seen.add(nonce)
    for event in op.events():
        if event.get("event") == "token.issued":
            secrets_seen |= {event["access_token"], event["id_token"]}
            # A JWT's signature alone would give it away too.
            secrets_seen.add(event["id_token"].rsplit(".", 1)[1])
    secrets_seen |= set(github.tokens)
    secrets_seen |= {r["code"] for r in github.token_requests}

    log = linking.server.log()

    assert "account linked" in log
    leaked = sorted(secret[:12] + "..." for secret in secrets_seen if secret in log)
    assert leaked == []

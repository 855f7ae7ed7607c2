// A real OpenID provider for learnbot's tests: oidc-provider (OpenID Certified) with its
// development interactions (a login form that takes any login, and a consent form), on a free
// port of 127.0.0.1. The tests' fixture (tests/oidc_provider.py) starts it.
//
// Configuration: a JSON document in OIDC_PROVIDER_CONFIG,
//   {"clients": [{"client_id", "client_secret", "redirect_uris", "id_token"?}],
//    "accounts": {"<login>": {"name": ..., "preferred_username": ...}}}
// Any login signs in, as the subject of that name; "alice+1" has the claims of "alice".
// Every client must use PKCE (S256). A client's "id_token" makes the token endpoint hand out
// an ID token changed after the provider issued it, so that a test can check one of the
// relying party's checks at a time:
//   forged    the same claims, signed with another key that has the provider key's kid
//   altered   another subject, the provider's signature kept
//   expired   issued two hours ago, expired one hour ago (re-signed with the provider's key)
//   audience  issued to another client (re-signed with the provider's key)
//   nonce     another nonce (re-signed with the provider's key)
//   issuer    another issuer (re-signed with the provider's key)
//
// Standard output: one JSON line when it listens ({"event": "listening", "issuer"}), one per
// error the provider reports (grant.error and the like, with the error's cause), and one per
// token response ({"event": "token.issued", "access_token", "id_token"}): a test looks for
// them in learnbot's log, where they must never be.

import * as http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_PROVIDER_CONFIG ?? '{}');
const clients = config.clients ?? [];
const accounts = config.accounts ?? {};
const KID = 'learnbot-test-key';

async function signingKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' };
}

const providerJwk = await signingKey();
const providerKey = await jose.importJWK(providerJwk, 'RS256');
// Another key with the same kid: what an attacker who does not hold the provider's key signs with.
const forgerKey = await jose.importJWK(await signingKey(), 'RS256');

function log(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function changedIdToken(idToken, how, issuer) {
  const header = jose.decodeProtectedHeader(idToken);
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  const resign = (changes, key = providerKey) => new jose.SignJWT({ ...claims, ...changes })
    .setProtectedHeader(header)
    .sign(key);
  switch (how) {
    case 'forged':
      return resign({}, forgerKey);
    case 'altered': {
      const [encodedHeader, , signature] = idToken.split('.');
      const payload = jose.base64url.encode(JSON.stringify({ ...claims, sub: `${claims.sub}-altered` }));
      return `${encodedHeader}.${payload}.${signature}`;
    }
    case 'expired':
      return resign({ iat: now - 7200, exp: now - 3600, auth_time: now - 7200 });
    case 'audience':
      return resign({ aud: 'another-client' });
    case 'nonce':
      return resign({ nonce: 'another-nonce' });
    case 'issuer':
      return resign({ iss: `${issuer}/another-issuer` });
    default:
      throw new Error(`unknown id_token change: ${how}`);
  }
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const changes = Object.fromEntries(
    clients.filter((c) => c.id_token).map((c) => [c.client_id, c.id_token]),
  );
  const provider = new Provider(issuer, {
    clients: clients.map(({ id_token: _, ...client }) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...client,
    })),
    jwks: { keys: [providerJwk] },
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    cookies: { keys: ['learnbot-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    ttl: {
      AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600,
    },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...(accounts[id.split('+')[0]] ?? {}) };
        },
      };
    },
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body?.id_token) return;
    const clientId = ctx.oidc?.client?.clientId;
    const how = changes[clientId];
    if (how) {
      ctx.body = { ...ctx.body, id_token: await changedIdToken(ctx.body.id_token, how, issuer) };
    }
    const { access_token: accessToken, id_token: idToken } = ctx.body;
    log({
      event: 'token.issued', client_id: clientId, access_token: accessToken, id_token: idToken,
    });
  });
  for (const event of ['grant.error', 'authorization.error', 'userinfo.error', 'server_error']) {
    provider.on(event, (ctx, error) => log({
      event,
      client_id: ctx.oidc?.client?.clientId,
      error: error.error,
      description: error.error_description,
      cause: error.cause?.message,
    }));
  }
  server.on('request', provider.callback());
  log({ event: 'listening', issuer });
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

// A real OpenID provider (the certified `oidc-provider` package, pinned to 8.8.1 because every
// 9.x release warns that it needs Node 22) for the OIDC login tests, plus a switch that corrupts
// the ID token it hands out so the tests can prove that Promptyard's relying party rejects each
// kind of bad token.
//
// What the browser sees (checked with Chromium through playwright-core):
//
// * Login page (dev interactions), at ISSUER/interaction/<uid>, <title>Sign-in</title>, <h1>Sign-in</h1>.
//   There are no <label>s, only placeholders:
//     login name:  input[name="login"]     (type=text, placeholder "Enter any login")
//     password:    input[name="password"]  (type=password, placeholder "and password"); the field is
//                  `required` so it must be filled, but any value is accepted
//     submit:      button[type="submit"] with text "Sign-in" (getByRole('button', { name: 'Sign-in' }))
//     There is also a link "[ Cancel ]" that ends the flow with error=access_denied.
//   Whatever is typed as the login becomes the account id (the ID token's `sub`).
//   The page links a Google Fonts stylesheet; offline that request just fails and the page still
//   loads (a test may abort https://fonts.googleapis.com/** to skip the attempt).
// * No consent page: loadExistingGrant below grants the requested scopes on the spot, so after
//   "Sign-in" the browser is redirected straight to the client's redirect_uri with code and state.
//   (Were it ever shown, the consent page has <h1>Authorize</h1> and a button "Continue".)
//   The redirect carries code, state and iss (RFC 9207; equal to the issuer).
// * The provider's login session is a cookie on 127.0.0.1:PORT: a second login in the same browser
//   context skips the login page. Use a fresh browser context to log in as someone else.
// * PKCE (S256) is required: a request without code_challenge is sent back to the redirect_uri with
//   error=invalid_request. Redeeming a code twice gives 400 invalid_grant and, as the spec advises,
//   also revokes the access token issued for it.
//
// Usage:
//   const op = await startProvider({
//     clients: [{ client_id, client_secret, redirect_uris: ['http://127.0.0.1:PORT/...'] }],
//     accounts: { alice: { email, email_verified, name, groups: ['admins'] } },
//   });
//   op.issuer                 // 'http://127.0.0.1:PORT', discovery at op.issuer + '/.well-known/openid-configuration'
//   op.setMode('expired')     // 'normal' | 'tamper-signature' | 'wrong-nonce' | 'expired' | 'wrong-audience'
//                             // | 'wrong-iss' (the authorization response's iss names another issuer)
//   op.tokenRequests          // [{ status, error, mode }], one per token endpoint request, in order
//   await op.close();

import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

export const MODES = ['normal', 'tamper-signature', 'wrong-nonce', 'expired', 'wrong-audience', 'wrong-iss'];

const b64json = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const unb64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

export async function startProvider({ clients = [], accounts = {} } = {}) {
  // The issuer has to carry the port, so bind first and build the provider afterwards.
  let handler = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  // A fresh key per run; kept here as well so the tampering modes can re-sign with the real key.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

  const claimsFor = (login) => {
    const known = accounts[login];
    return {
      sub: login,
      email: known?.email ?? `${login}@example.test`,
      email_verified: known?.email_verified ?? false,
      name: known?.name ?? login,
      groups: known?.groups ?? [],
    };
  };

  const provider = new Provider(issuer, {
    clients: clients.map((client) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // Registering basic still lets the client use client_secret_post: oidc-provider accepts
      // either of the two secret methods for a client registered with one of them.
      token_endpoint_auth_method: 'client_secret_basic',
      ...client,
    })),
    jwks: { keys: [signingJwk] },
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    // A relying party that forgets PKCE should fail here, not pass silently.
    pkce: { methods: ['S256'], required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    // Put the scope-requested claims in the ID token itself, which is where Promptyard reads them.
    conformIdTokenClaims: false,
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => claimsFor(sub) };
    },
    // Act as a first-party provider: grant whatever OIDC scopes were asked for, so no consent page.
    async loadExistingGrant(ctx) {
      const { client, account, session } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== account.accountId) {
        grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: account.accountId });
      }
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      await grant.save();
      return grant;
    },
    features: { devInteractions: { enabled: true } },
    // Explicit lifetimes (seconds) also keep the provider from printing a notice for each default.
    ttl: { AuthorizationCode: 60, AccessToken: 3600, IdToken: 3600, Interaction: 3600, Grant: 86400, Session: 86400 },
    // The default SameSite=None session cookie is dropped by Chromium on plain http.
    cookies: {
      keys: [randomBytes(32).toString('hex')],
      long: { signed: true, sameSite: 'lax' },
      short: { signed: true, sameSite: 'lax' },
    },
  });

  let mode = 'normal';
  const tokenRequests = [];
  const tokenPath = new URL(provider.urlFor('token')).pathname;
  const otherAudience = clients.find((c) => c.client_id !== clients[0]?.client_id)?.client_id
    ?? 'some-other-client';

  const resign = (header, claims) => {
    const input = `${b64json(header)}.${b64json(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  };

  // Each mode breaks exactly one thing, so a test failure points at the one check that is missing.
  const corrupt = (idToken) => {
    const [h, p, s] = idToken.split('.');
    const header = unb64json(h);
    const claims = unb64json(p);
    const now = Math.floor(Date.now() / 1000);
    switch (mode) {
      case 'tamper-signature':
        // Pretend to be someone else, keeping the original signature.
        return `${h}.${b64json({ ...claims, sub: 'mallory', email: 'mallory@example.test' })}.${s}`;
      case 'wrong-nonce':
        return resign(header, { ...claims, nonce: randomBytes(16).toString('base64url') });
      case 'expired':
        // Well past any clock-skew leeway a relying party may allow.
        return resign(header, {
          ...claims,
          iat: now - 7200,
          exp: now - 3600,
          ...(claims.auth_time !== undefined && { auth_time: now - 7200 }),
        });
      case 'wrong-audience':
        return resign(header, { ...claims, aud: otherAudience });
      default:
        return idToken;
    }
  };

  // Runs upstream of the provider's own routes, so it sees the final token response (or error).
  provider.use(async (ctx, next) => {
    await next();
    // 'wrong-iss': the authorization response names another issuer (RFC 9207 mix-up).
    const location = ctx.response.get('location');
    if (mode === 'wrong-iss' && location && location.includes('iss=')) {
      const url = new URL(location);
      url.searchParams.set('iss', 'http://127.0.0.1:1');
      ctx.redirect(url.toString());
    }
    if (ctx.method !== 'POST' || ctx.path !== tokenPath) return;
    const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
    tokenRequests.push({ status: ctx.status, error: body.error ?? null, mode });
    if (ctx.status === 200 && typeof body.id_token === 'string') {
      ctx.body = { ...body, id_token: corrupt(body.id_token) };
    }
  });

  handler = provider.callback();

  return {
    issuer,
    port,
    tokenRequests,
    setMode(next) {
      if (!MODES.includes(next)) throw new Error(`unknown OIDC provider mode: ${next}`);
      mode = next;
    },
    close() {
      return new Promise((ok) => {
        server.close(() => ok());
        // Chromium keeps connections alive; without this close() waits for them to time out.
        server.closeAllConnections();
      });
    },
  };
}

#!/usr/bin/env node
// Signs a user in with Gatehouse from Node with openid-client
// (https://github.com/panva/openid-client, an OpenID Certified relying
// party): the authorization code flow with PKCE as a confidential client,
// then userinfo, a refresh, and the URL that signs the user out.
//
//   npm ci
//   ISSUER=http://localhost:8080 CLIENT_ID=... CLIENT_SECRET=... \
//   REDIRECT_URI=http://127.0.0.1:3000/callback \
//   POST_LOGOUT_REDIRECT_URI=http://127.0.0.1:3000/ node signin.mjs
//
// Register the client first:
//
//   gatehouse clients create --name "Node app" --type confidential \
//     --redirect-uri http://127.0.0.1:3000/callback \
//     --post-logout-redirect-uri http://127.0.0.1:3000/
//
// It prints the authorization URL on the first line of stdout. Open it,
// sign in, and give it the URL the browser is sent back to (the redirect
// URI with code, state and iss: nothing needs to listen there) as a line
// on stdin. It then prints one JSON object: the id_token's claims, the
// userinfo, what the refresh gave, and the end-session URL that signs the
// user out of Gatehouse too. A web app does the same in two handlers
// (/login and /callback), keeping the verifier, state and nonce in the
// user's session between them.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`signin: set ${name}`);
    process.exit(2);
  }
  return v;
};
const issuer = new URL(env('ISSUER'));
const redirectUri = env('REDIRECT_URI');

// Discovery reads /.well-known/openid-configuration; the secret is sent
// in the token requests (client_secret_post). openid-client refuses plain
// http unless told: allow it for a local Gatehouse only.
const config = await client.discovery(issuer, env('CLIENT_ID'), env('CLIENT_SECRET'), undefined,
  issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined);

// A fresh PKCE verifier, state and nonce for each sign-in.
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid email',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
console.log(authorizationUrl.href);

const stdin = createInterface({ input: process.stdin });
const { value: callback, done } = await stdin[Symbol.asyncIterator]().next();
stdin.close();
if (done) {
  console.error('signin: no callback URL on stdin');
  process.exit(2);
}

// The callback's state and iss (RFC 9207) are checked, the code redeemed
// with the verifier, and the id_token's claims checked: iss, aud, exp, iat
// and the nonce. Its signature is checked only after
// client.enableNonRepudiationChecks(config): the token came straight from
// Gatehouse's token endpoint over TLS, which is what vouches for it.
const tokens = await client.authorizationCodeGrant(config, new URL(callback.trim()), {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();

// userinfo must be about the id_token's subject.
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

// A refresh gives a new access token and a new refresh token: Gatehouse
// rotates them, so keep the new one.
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);

// RP-Initiated Logout: with the id_token as hint Gatehouse signs the
// browser out at once and sends it back to the registered URI.
const endSessionUrl = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: env('POST_LOGOUT_REDIRECT_URI'),
  state: client.randomState(),
});

console.log(JSON.stringify({
  id_token_claims: claims,
  userinfo,
  refresh: {
    new_access_token: refreshed.access_token !== tokens.access_token,
    new_refresh_token: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
    expires_in: refreshed.expiresIn(),
  },
  end_session_url: endSessionUrl.href,
}));

// A single-page app that signs its users in with Gatehouse: a public
// OpenID Connect client (no secret) using the authorization code flow with
// PKCE, on oauth4webapi (https://github.com/panva/oauth4webapi), served as
// the ES module npm installs, without a bundler.
//
//   npm ci && python3 -m http.server 3000 --bind 127.0.0.1
//
// Register it (the redirect URI is this page) and let its origin call the
// token and userinfo endpoints, then put the issuer and client_id in
// config.json:
//
//   gatehouse clients create --name "My SPA" --type public \
//     --redirect-uri http://127.0.0.1:3000/ \
//     --post-logout-redirect-uri http://127.0.0.1:3000/
//   GATEHOUSE_CORS_ORIGINS=http://127.0.0.1:3000 gatehouse serve
//
// The tokens stay in this page's memory, never in localStorage, where any
// script of the origin could read them; a reload signs the page out (the
// next sign-in is a redirect and back, with no form while the Gatehouse
// session lasts).
import * as oauth from './node_modules/oauth4webapi/build/index.js';

const config = await (await fetch('config.json')).json();
const issuer = new URL(config.issuer);
const client = { client_id: config.client_id };
const redirectUri = location.origin + location.pathname;
// oauth4webapi refuses plain http unless told: allow it for a local
// Gatehouse only.
const http = issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};

const $ = (id) => document.getElementById(id);
const show = (text) => { $('status').textContent = text; };

let as; // the provider's metadata, from discovery

// Sign in: a fresh PKCE verifier, state and nonce, kept in sessionStorage
// (this tab only) for the way back, then off to Gatehouse.
async function signIn() {
  const pending = {
    verifier: oauth.generateRandomCodeVerifier(),
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
  };
  sessionStorage.setItem('signin', JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid email',
    code_challenge: await oauth.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  });
  location.assign(url);
}

// Back from Gatehouse: the state and iss of the answer are checked, the
// code redeemed from the browser with the verifier (a CORS request), the
// id_token's claims checked (iss, aud, exp, nonce), and the user's email
// read from userinfo.
async function callback(pending) {
  const params = oauth.validateAuthResponse(as, client, new URL(location.href), pending.state);
  history.replaceState(null, '', redirectUri); // the code leaves the address bar
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, pending.verifier, http);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: pending.nonce, requireIdToken: true });
  const { sub } = oauth.getValidatedIdTokenClaims(tokens);
  const userinfo = await oauth.processUserInfoResponse(as, client, sub, await oauth.userInfoRequest(as, client, tokens.access_token, http));
  show(`Signed in as ${userinfo.email}`);
  $('sign-out').hidden = false;
  $('sign-out').onclick = () => signOut(tokens.id_token);
}

// Sign out of Gatehouse too (RP-Initiated Logout): with the id_token as
// hint it ends the session at once and comes back here.
function signOut(idToken) {
  const url = new URL(as.end_session_endpoint);
  url.search = new URLSearchParams({ client_id: client.client_id, id_token_hint: idToken, post_logout_redirect_uri: redirectUri });
  location.assign(url);
}

// Discovery reads /.well-known/openid-configuration (a CORS request too),
// then the page is either the way back from Gatehouse or a fresh start.
const pending = JSON.parse(sessionStorage.getItem('signin'));
sessionStorage.removeItem('signin');
try {
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http));
  if (pending && new URLSearchParams(location.search).has('state')) {
    await callback(pending);
  } else {
    show('Not signed in');
    offerSignIn();
  }
} catch (err) {
  show(`Sign-in failed: ${err.message}`);
  if (as) offerSignIn();
}

function offerSignIn() {
  $('sign-in').hidden = false;
  $('sign-in').onclick = signIn;
}

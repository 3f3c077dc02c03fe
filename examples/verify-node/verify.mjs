#!/usr/bin/env node
// Verifies a Gatehouse access token in Node the way another service should
// before it trusts one, with jose (https://github.com/panva/jose): the Node
// counterpart of examples/verify (Go).
//
//   npm ci && node verify.mjs [flags] TOKEN      # or the token on stdin
//
//   --issuer       http://localhost:8080   GATEHOUSE_PUBLIC_URL
//   --jwks         the issuer's /.well-known/jwks.json
//   --audience     gatehouse               GATEHOUSE_JWT_AUDIENCE
//   --require-amr  otp                     refuse a token whose amr lacks it
//
// It prints the token's claims as JSON and exits 0, or says why the token
// is refused and exits 1 (2 for a usage error). What it checks:
//
//   - createRemoteJWKSet fetches the JWKS, keeps it (5 minutes, Gatehouse's
//     max-age) and fetches it again for an unknown kid (a key rotation), at
//     most once per 30 s, so tokens with made-up kids cannot make the
//     service hammer the issuer. Keys come from that URL only: jku, x5u and
//     jwk headers are never followed;
//   - jwtVerify pins the algorithm (EdDSA), checks typ "at+jwt" (RFC 9068: an
//     ID token signed by the same key is not an access token), the
//     signature, iss, aud and exp (30 s leeway), and that sub is present;
//   - amr (RFC 8176) says how the session's login was proven: ["pwd"], or
//     ["pwd","otp"] after a second factor. A service that needs two factors
//     for an action checks it, as --require-amr does.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/**
 * A verifier of one issuer's access tokens; make one and share it between
 * requests (it caches the JWKS).
 */
export function accessTokenVerifier({ issuer, audience, jwksUrl }) {
  const jwks = createRemoteJWKSet(new URL(jwksUrl), {
    cacheMaxAge: 5 * 60 * 1000, // Gatehouse serves the JWKS with max-age=300
    cooldownDuration: 30 * 1000, // least time between two fetches
  });
  return async function verify(token, { requireAmr } = {}) {
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ['EdDSA'],
      typ: 'at+jwt',
      issuer,
      audience,
      clockTolerance: 30,
      requiredClaims: ['sub', 'exp'],
    });
    if (requireAmr && !(Array.isArray(payload.amr) && payload.amr.includes(requireAmr))) {
      throw new Error(`amr lacks a required method: "${requireAmr}" not in ${JSON.stringify(payload.amr ?? [])}`);
    }
    return payload;
  };
}

async function main() {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        issuer: { type: 'string', default: 'http://localhost:8080' },
        jwks: { type: 'string' },
        audience: { type: 'string', default: 'gatehouse' },
        'require-amr': { type: 'string' },
      },
    });
  } catch (err) {
    console.error(`verify: ${err.message}`);
    return 2;
  }
  const { values, positionals } = args;
  if (positionals.length > 1) {
    console.error('usage: node verify.mjs [--issuer URL] [--jwks URL] [--audience AUD] [--require-amr METHOD] TOKEN');
    return 2;
  }
  const raw = (positionals[0] ?? readFileSync(0, 'utf8')).trim().replace(/^Bearer /, '');
  if (!raw) {
    console.error('usage: node verify.mjs [flags] TOKEN   (or the token on stdin)');
    return 2;
  }
  const jwksUrl = values.jwks ?? `${values.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
  const verify = accessTokenVerifier({ issuer: values.issuer, audience: values.audience, jwksUrl });
  try {
    const claims = await verify(raw, { requireAmr: values['require-amr'] });
    console.log(JSON.stringify(claims, null, 2));
    return 0;
  } catch (err) {
    console.error(`verify: token refused: ${err.code ? `${err.code}: ` : ''}${err.message}`);
    return 1;
  }
}

// Run as a program, not when imported for accessTokenVerifier.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}

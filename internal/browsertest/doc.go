// Package browsertest drives the hosted pages (verify email, forgot password,
// reset password, confirm a new email address, sign-in and sign-up) in a
// real headless Chromium, against the real gatehouse binary on the embedded
// store: each page renders, its form posts without JavaScript, the
// Content-Security-Policy blocks inline script, and a screenshot of each
// page is written to the test's artifact directory (go test -artifacts
// keeps them). Authorization requests of registered clients go from the
// address bar through sign-in, consent or sign-up to the client's redirect
// URI, where the code is redeemed with x/oauth2. The single-page app
// example (examples/oidc-spa, whose module `npm ci` installs) signs in
// through them as a public client, its code exchange a CORS request; and
// oauth2-proxy (built by `make oauth2-proxy`) protects an application,
// on both stores.
//
// The tests need a Chromium binary (Debian's chromium package; .ci/run
// installs it). Outside CI they skip when none is on PATH; with CI=true a
// missing Chromium fails them.
//
// It has no code of its own; everything lives in _test.go files.
package browsertest

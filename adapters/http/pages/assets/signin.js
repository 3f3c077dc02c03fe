// The sign-in page's passkey ceremony. The page works without this
// script (the password form); with it, the page shows the button
// #passkey-sign-in and offers the passkeys of this site in the email
// field's autofill (conditional mediation) where the browser can. Either
// way the ceremony begins with a fetch of ./sign-in/passkey/begin (the
// page's CSRF token in X-CSRF-Token) and ends as a plain form POST of the
// answer to ./sign-in, whose answer is the next page: the pending
// authorization request, the code page, or this page saying what went
// wrong.
"use strict";
(function () {
  const wa = window.gatehouseWebAuthn;
  const form = document.getElementById("passkey-form");
  const button = document.getElementById("passkey-sign-in");
  const status = document.getElementById("passkey-status");
  if (!wa || !form || !button || !window.PublicKeyCredential || !navigator.credentials) return;
  const csrf = form.elements.csrf.value;
  let conditional = null; // the AbortController of the autofill request

  function say(msg) {
    status.textContent = msg;
    status.hidden = !msg;
  }

  // signIn begins a ceremony, asks the browser for a passkey (in a dialog,
  // or with mediation "conditional" in the autofill until signal aborts
  // it) and posts the answer. It rejects when any step fails.
  async function signIn(mediation, signal) {
    const begun = await wa.postJSON("./sign-in/passkey/begin", {}, csrf);
    const req = { publicKey: wa.requestOptions(begun.options.publicKey) };
    if (mediation) req.mediation = mediation;
    if (signal) req.signal = signal;
    const cred = await navigator.credentials.get(req);
    if (!cred) throw new DOMException("No passkey was chosen.", "NotAllowedError");
    form.elements.challenge_id.value = begun.challenge_id;
    form.elements.credential.value = JSON.stringify(wa.credentialJSON(cred));
    form.submit();
  }

  // startConditional offers the passkeys in the email field's autofill;
  // a failure there is silent: the button and the password remain.
  async function startConditional() {
    if (!PublicKeyCredential.isConditionalMediationAvailable) return;
    try {
      if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    } catch (e) {
      return;
    }
    conditional = new AbortController();
    const signal = conditional.signal;
    try {
      await signIn("conditional", signal);
    } catch (e) {
      // Aborted by the button, or refused: nothing to say.
    }
  }

  button.addEventListener("click", async function () {
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    say("");
    button.disabled = true;
    try {
      await signIn("", null);
    } catch (e) {
      button.disabled = false;
      if (e && e.name === "NotAllowedError") {
        say("The passkey sign-in was cancelled or timed out. Try again, or sign in with your password.");
      } else if (e && e.name === "SecurityError") {
        say("This browser refused to use a passkey for this site. Sign in with your password.");
      } else {
        say((e && e.message ? e.message + " " : "") + "Sign in with your password, or try the passkey again.");
      }
      startConditional(); // the autofill offers the passkeys again
    }
  });
  button.hidden = false;
  startConditional();
})();

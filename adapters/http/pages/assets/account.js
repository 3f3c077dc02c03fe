// The account page's passkey registration: the one part of the page that
// needs JavaScript (the browser's WebAuthn API). Without it the page says
// so and keeps the button hidden.
"use strict";
(function () {
  const w = window.gatehouseWebAuthn;
  const add = document.getElementById("passkey-add");
  const note = document.getElementById("passkey-nojs");
  if (!add) return;
  if (!w) {
    // webauthn.js did not load (a network error, a blocked request).
    note.textContent = "The passkey part of this page could not load. Reload the page to add a passkey.";
    return;
  }
  if (!window.PublicKeyCredential || !navigator.credentials) {
    note.textContent = "This browser cannot create passkeys. Add one from a browser that can, such as a current Chrome, Edge, Firefox or Safari.";
    return;
  }
  const status = document.getElementById("passkey-status");
  document.querySelectorAll("[data-js]").forEach(function (el) { el.hidden = false; });
  note.hidden = true;

  function say(text, cls) {
    status.className = cls || "";
    status.textContent = text;
  }
  // refusal is what went wrong, in words that say what to do next.
  function refusal(e) {
    switch (e && e.code) {
      case "step_up_required":
        return "Adding a passkey needs your second factor: enter the code your authenticator app shows now (or an unused recovery code) in the Code field, then press Add a passkey again.";
      case "invalid_code":
        return "The code is not right. Enter the code your authenticator app shows now (or an unused recovery code), then press Add a passkey again.";
    }
    switch (e && e.name) {
      case "NotAllowedError":
        return "No passkey was added: the prompt was closed or timed out. Press Add a passkey to try again.";
      case "InvalidStateError":
        return "This device or security key already holds a passkey for your account. Use another one, or keep the one you have.";
    }
    return ((e && e.message) || "Something went wrong.") + " Press Add a passkey to try again.";
  }

  add.addEventListener("click", async function () {
    add.disabled = true;
    say("Follow your browser's prompt to create the passkey.");
    try {
      const csrf = add.dataset.csrf;
      const code = document.getElementById("passkey-code");
      const begun = await w.postJSON("./account/passkeys/register/begin", code && code.value.trim() ? { code: code.value.trim() } : {}, csrf);
      const cred = await navigator.credentials.create({ publicKey: w.creationOptions(begun.options.publicKey) });
      const body = { challenge_id: begun.challenge_id, credential: w.credentialJSON(cred) };
      const name = document.getElementById("passkey-name").value.trim();
      if (name) body.name = name;
      await w.postJSON("./account/passkeys/register/finish", body, csrf);
      // Without a fragment, so that the page loads again even when it is
      // already ./account; the finish's one-time cookie makes it say so.
      window.location.assign("./account");
    } catch (e) {
      say(refusal(e), "err");
      add.disabled = false;
    }
  });
})();

// Shared helpers of the hosted pages' WebAuthn ceremonies. The server
// answers a ceremony's options as JSON with binary fields in base64url
// (the WebAuthn JSON encoding); the browser API wants ArrayBuffers, and the
// server wants the credential back in the same JSON encoding.
"use strict";
(function () {
  function b64uDecode(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function b64uEncode(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIDs(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: b64uDecode(c.id) }); });
  }
  // creationOptions turns the server's options for navigator.credentials.create
  // (the publicKey member) into what the browser takes.
  function creationOptions(pk) {
    return Object.assign({}, pk, {
      challenge: b64uDecode(pk.challenge),
      user: Object.assign({}, pk.user, { id: b64uDecode(pk.user.id) }),
      excludeCredentials: withIDs(pk.excludeCredentials),
    });
  }
  // requestOptions does the same for navigator.credentials.get.
  function requestOptions(pk) {
    return Object.assign({}, pk, { challenge: b64uDecode(pk.challenge), allowCredentials: withIDs(pk.allowCredentials) });
  }
  // credentialJSON is a created or asserted credential in the JSON encoding.
  function credentialJSON(cred) {
    const r = cred.response;
    const response = { clientDataJSON: b64uEncode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = b64uEncode(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    }
    if (r.authenticatorData) response.authenticatorData = b64uEncode(r.authenticatorData);
    if (r.signature) response.signature = b64uEncode(r.signature);
    if (r.userHandle) response.userHandle = b64uEncode(r.userHandle);
    return {
      id: cred.id, rawId: b64uEncode(cred.rawId), type: cred.type, response: response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
  }
  // postJSON posts body as JSON with the page's CSRF token in the
  // X-CSRF-Token header and answers the parsed reply; a reply that is not
  // 2xx rejects with an Error whose message is the reply's detail and
  // whose code is the reply's code.
  async function postJSON(url, body, csrf) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    const data = await res.json().catch(function () { return {}; });
    if (!res.ok) {
      const e = new Error(data.detail || data.title || ("The server answered " + res.status + "."));
      e.code = data.code;
      throw e;
    }
    return data;
  }
  window.gatehouseWebAuthn = { b64uDecode, b64uEncode, creationOptions, requestOptions, credentialJSON, postJSON };
})();

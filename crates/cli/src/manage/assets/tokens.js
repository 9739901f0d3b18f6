// The "API Tokens" page of `wgauth serve` (docs/MANAGEMENT.md).
// The management token lives in this closure only: no cookie and no
// storage, so there is nothing for another site to ride on (no CSRF) and a
// reload signs out. Every text from the server goes in through textContent.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let token = null;
  let caller = null;

  const status = $("status");
  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  // An element with text children (never parsed as markup).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function when(seconds) {
    if (seconds === null || seconds === undefined) return null;
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  // Calls the API with the token; resolves to {status, body}.
  async function api(method, path, body) {
    const headers = { "Access-Token": token };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { status: 0, body: { message: "the server cannot be reached" } };
    }
    let parsed = null;
    try {
      parsed = await response.json();
    } catch (e) {
      parsed = { message: "the server answered " + response.status };
    }
    return { status: response.status, body: parsed };
  }

  function signOut(message, isError) {
    token = null;
    caller = null;
    $("issued-token").value = "";
    $("issued").hidden = true;
    $("token-rows").replaceChildren();
    $("signed-in").hidden = true;
    $("session").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-token").value = "";
    $("sign-in-token").focus();
    say(message || "Signed out.", isError);
  }

  // A refused call. When the session's token no longer works (deleted,
  // disabled, regenerated elsewhere) or lost tokens:manage, sign out and
  // say why; any other refusal (a bad name, a scope it may not grant) is
  // only said.
  function refused(result) {
    const message = result.body && result.body.message ? result.body.message : "refused";
    const lost = result.status === 403 &&
      /Access-Token|lacks the scope tokens:manage/.test(message);
    if (lost) {
      signOut("Signed out: " + message + ".", true);
      return true;
    }
    say(message.charAt(0).toUpperCase() + message.slice(1) + ".", true);
    return false;
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $("sign-in-token");
    token = input.value.trim();
    input.value = "";
    if (!token) return;
    say("Signing in…");
    const result = await api("GET", "/api/tokens");
    if (result.status !== 200) {
      const message = result.body && result.body.message ? result.body.message : "refused";
      const hint = result.status === 403 && /scope/.test(message)
        ? " This page needs a token with the tokens:manage scope."
        : "";
      token = null;
      say("Sign-in refused: " + message + "." + hint, true);
      input.focus();
      return;
    }
    caller = result.body.caller;
    $("session-account").textContent = "Account " + result.body.account;
    $("session").hidden = false;
    $("sign-in").hidden = true;
    $("signed-in").hidden = false;
    render(result.body.tokens);
    say("Signed in to account " + result.body.account + ".");
    $("create-name").focus();
  }

  async function refresh() {
    const result = await api("GET", "/api/tokens");
    if (result.status !== 200) return refused(result);
    render(result.body.tokens);
    return true;
  }

  function render(tokens) {
    const rows = tokens.map((t) => {
      const name = el("th", { scope: "row" }, el("span", { class: "name", text: t.name }));
      if (t.id === caller) name.append(el("span", { class: "badge", text: "this session" }));
      if (t.description) name.append(el("span", { class: "description", text: t.description }));
      name.append(el("code", { class: "id", text: t.id }));
      const scopes = t.scopes === null
        ? el("td", { text: "full access" })
        : el("td", { text: t.scopes.length ? t.scopes.join(" ") : "none" });
      const actions = el("td", { class: "actions" },
        button("Regenerate", t, () => regenerate(t)),
        button(t.disabled ? "Enable" : "Disable", t, () => setDisabled(t, !t.disabled)),
        button("Delete", t, () => remove(t), "danger"));
      return el("tr", { "data-id": t.id },
        name,
        el("td", { class: "when", text: when(t.created_at) }),
        el("td", { class: "when", text: when(t.last_used_at) || "never" }),
        scopes,
        el("td", { class: "when", text: when(t.expires_at) || "never" }),
        el("td", {}, el("span", { class: "status " + t.status, text: t.status })),
        actions);
    });
    $("token-rows").replaceChildren(...rows);
    $("no-tokens").hidden = tokens.length > 0;
  }

  // A row's button; its accessible name says which token it acts on.
  function button(text, t, onClick, cls) {
    const b = el("button", { type: "button", text, class: cls || "", "aria-label": text + " " + t.name });
    b.addEventListener("click", onClick);
    return b;
  }

  // The confirmation dialog: resolves true for the confirming button.
  function confirmAction(title, text, ok) {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    return new Promise((resolve) => {
      const done = (value) => {
        $("confirm-ok").removeEventListener("click", yes);
        $("confirm-cancel").removeEventListener("click", no);
        dialog.removeEventListener("cancel", no);
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const yes = () => done(true);
      const no = () => done(false);
      $("confirm-ok").addEventListener("click", yes);
      $("confirm-cancel").addEventListener("click", no);
      dialog.addEventListener("cancel", no);
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  }

  function showIssued(secret, what) {
    $("issued-token").value = secret;
    $("issued").hidden = false;
    $("issued-title").focus();
    say(what + " Copy the token now: it is shown once.");
  }

  async function create(event) {
    event.preventDefault();
    const body = { name: $("create-name").value };
    const description = $("create-description").value.trim();
    if (description) body.description = description;
    const scopes = $("create-scopes").value.split(/[\s,]+/).filter(Boolean);
    if (scopes.length) body.scopes = scopes;
    const expiry = $("create-expiry").value;
    if (expiry) body.expires_in = expiry;
    const result = await api("POST", "/api/tokens", body);
    if (result.status !== 201) return refused(result);
    $("create-form").reset();
    await refresh();
    showIssued(result.body.token, "Created token “" + result.body.name + "”.");
  }

  async function regenerate(t) {
    const sure = await confirmAction("Regenerate “" + t.name + "”?",
      "It gets a new secret; the current one stops working at once.", "Regenerate");
    if (!sure) return;
    const result = await api("POST", "/api/tokens/" + encodeURIComponent(t.id) + "/regenerate");
    if (result.status !== 200) return refused(result);
    if (t.id === caller) {
      // The session's own token: sign in again with the new one.
      token = result.body.token;
    }
    await refresh();
    showIssued(result.body.token, "Regenerated token “" + t.name + "”.");
  }

  async function setDisabled(t, disabled) {
    const result = await api("PATCH", "/api/tokens/" + encodeURIComponent(t.id), { disabled });
    if (result.status !== 200) return refused(result);
    if (await refresh()) {
      say((disabled ? "Disabled" : "Enabled") + " token “" + t.name + "”.");
    }
  }

  async function remove(t) {
    const sure = await confirmAction("Delete “" + t.name + "”?",
      "Requests with this token are refused from now on. This cannot be undone.", "Delete");
    if (!sure) {
      say("Nothing deleted.");
      return;
    }
    const result = await api("DELETE", "/api/tokens/" + encodeURIComponent(t.id));
    if (result.status !== 200) return refused(result);
    if (t.id === caller) {
      signOut("Deleted token “" + t.name + "”, the one this session used: signed out.");
      return;
    }
    if (await refresh()) say("Deleted token “" + t.name + "”.");
  }

  async function copy() {
    const field = $("issued-token");
    try {
      await navigator.clipboard.writeText(field.value);
      say("Copied the token to the clipboard.");
      return;
    } catch (e) {
      // No clipboard permission (or an insecure origin): select it instead.
    }
    field.focus();
    field.select();
    say("Selected the token: press Ctrl+C (⌘C) to copy it.");
  }

  function done() {
    $("issued-token").value = "";
    $("issued").hidden = true;
    $("create-name").focus();
    say("The new token is no longer shown.");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in-form").addEventListener("submit", signIn);
    $("create-form").addEventListener("submit", create);
    $("sign-out").addEventListener("click", () => signOut());
    $("issued-copy").addEventListener("click", copy);
    $("issued-done").addEventListener("click", done);
    $("sign-in-token").focus();
  });
})();

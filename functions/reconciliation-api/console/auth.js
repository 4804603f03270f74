// Sign-in. The operator's access token lives in sessionStorage (this tab
// only, gone when it closes) and goes on every API call as a Bearer token.
//
// - Deployed with CONSOLE_AUTH_DOMAIN and CONSOLE_CLIENT_ID: the Cognito
//   hosted UI, authorization code with PKCE (S256); the code is exchanged at
//   the domain's /oauth2/token by the page itself (a public client, no secret).
// - Otherwise (the local stack): the operator pastes a token, or opens the
//   URL `./dev.sh up` prints, whose fragment `#token=...` carries the dev
//   token (a fragment never reaches a server).
import { h, field, status } from './ui.js';

const KEY = 'console.token';
const PKCE = 'console.pkce';

export function token() { return sessionStorage.getItem(KEY) || ''; }

export function claims() {
  try {
    const part = token().split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch { return null; }
}

function redirectUri() { return location.origin + location.pathname; }

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(n) { return b64url(crypto.getRandomValues(new Uint8Array(n))); }

async function signInHostedUi(config) {
  const verifier = random(48);
  const state = random(16);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    response_type: 'code', client_id: config.clientId, redirect_uri: redirectUri(),
    scope: config.scopes, state, code_challenge_method: 'S256', code_challenge: challenge,
  });
  location.assign(`${config.authDomain}/oauth2/authorize?${q}`);
}

async function finishHostedUi(config, params) {
  const saved = JSON.parse(sessionStorage.getItem(PKCE) || 'null');
  sessionStorage.removeItem(PKCE);
  history.replaceState(null, '', location.pathname + location.hash);
  if (!saved || saved.state !== params.get('state')) throw new Error('sign-in answer does not match this tab (state); sign in again');
  const response = await fetch(`${config.authDomain}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', client_id: config.clientId, code: params.get('code'),
      redirect_uri: redirectUri(), code_verifier: saved.verifier,
    }),
  });
  if (!response.ok) throw new Error(`token exchange failed: ${response.status}`);
  const tokens = await response.json();
  sessionStorage.setItem(KEY, tokens.access_token);
}

/// Takes a token from the URL (hosted UI callback or dev fragment) if there
/// is one. True when the tab holds a token afterwards.
export async function start(config) {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (fragment.get('token')) {
    sessionStorage.setItem(KEY, fragment.get('token'));
    const then = fragment.get('then') || '';
    history.replaceState(null, '', `${location.pathname}${then.startsWith('#/') ? then : '#/queue'}`);
  }
  const params = new URLSearchParams(location.search);
  if (config.signIn === 'hosted-ui' && params.get('code')) {
    try { await finishHostedUi(config, params); } catch (e) { status(e.message, 'error'); }
  }
  return Boolean(token());
}

export function signOut(config) {
  sessionStorage.removeItem(KEY);
  if (config.signIn === 'hosted-ui') {
    const q = new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri() });
    location.assign(`${config.authDomain}/logout?${q}`);
  } else {
    location.hash = '#/queue';
    location.reload();
  }
}

export function signInPage(config, main) {
  main.replaceChildren();
  if (config.signIn === 'hosted-ui') {
    main.append(h('section', { class: 'signin' },
      h('h2', {}, 'Sign in'),
      h('p', {}, 'Operators sign in with the organisation’s identity provider.'),
      h('button', { type: 'button', onclick: () => signInHostedUi(config) }, 'Sign in')));
    return;
  }
  const input = h('textarea', { name: 'token', rows: 4, required: true, autocomplete: 'off', spellcheck: 'false' });
  const form = h('form', { class: 'signin' },
    h('h2', {}, 'Sign in with a token'),
    h('p', {}, 'Local stack: paste the dev token that `./dev.sh up` prints (or `devstack token`), or open the console URL it prints.'),
    field('Operator token (JWT)', input),
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    location.hash = '#/queue';
    location.reload();
  });
  main.append(form);
  input.focus();
}

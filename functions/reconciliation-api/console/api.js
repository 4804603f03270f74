// The API, from the console's own location: the console is served at
// <prefix>/console/ and the API's route paths sit under the same <prefix>
// (the stage on the execute-api endpoint, nothing on the custom domain).
import { token } from './auth.js';

export const base = location.pathname.replace(/\/console(\/.*)?$/, '');

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body, accept) {
  const headers = { authorization: `Bearer ${token()}` };
  if (accept) headers.accept = accept;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    let e = {};
    try { e = JSON.parse(text); } catch { e = { message: text } }
    throw new ApiError(response.status, e.code || `HTTP ${response.status}`, e.message || text);
  }
  return text;
}

export async function api(method, path, body) {
  const text = await call(method, path, body, 'application/json');
  return text ? JSON.parse(text) : null;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const getText = (path, accept) => call('GET', path, undefined, accept);

/// An API route this deployment does not have (API Gateway's or the function's 404).
export function missingRoute(e) {
  return e instanceof ApiError && e.status === 404 && (e.code === 'BTN0302' || e.code === 'HTTP 404');
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

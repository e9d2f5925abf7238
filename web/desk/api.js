// The admin API client (docs/business-desk.md, "The admin API"): JSON in and
// out, the session cookie sent by the browser, and the session's CSRF token
// as X-CSRF-Token on every change. Errors are thrown as ApiError with the
// answer's code, message, field and, for a refused catalog save, its issues.

let csrfToken = '';
let onSignedOut = () => {};

export function setCsrfToken(token) { csrfToken = token || ''; }
// Called when an answer says the session is gone (401 outside sign-in).
export function setSignedOutHandler(fn) { onSignedOut = fn; }

export class ApiError extends Error {
  constructor(status, body, text) {
    const message = (body && body.message) || text || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = (body && body.code) || '';
    this.field = (body && body.field) || '';
    this.issues = (body && body.issues) || [];
    this.retryAfter = 0;
  }
}

const kChanges = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// api('PUT', '/api/v1/customers/acme', {body, ifMatch: 7, query: {from: ...}})
export async function api(method, path, { body, ifMatch, query } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (kChanges.has(method)) headers['X-CSRF-Token'] = csrfToken;
  if (ifMatch !== undefined && ifMatch !== null) headers['If-Match'] = `"${ifMatch}"`;
  const url = path + queryString(query);
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const error = new ApiError(res.status, data, text);
    error.retryAfter = Number(res.headers.get('Retry-After') || 0);
    if (res.status === 401 && path !== '/api/v1/session') onSignedOut();
    throw error;
  }
  return data;
}

export function queryString(query) {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

// Path segment for an id ("spring paint" -> "spring%20paint"; ':' as %3A,
// so that an id is never taken for a ":verb").
export const seg = (id) => encodeURIComponent(id).replace(/:/g, '%3A');

// The HTTP API (docs/api.md): JSON in and out, the session cookie, the CSRF header on every
// change, and the API's error body ({"error": {code, message, field}}) turned into ApiError.

export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let csrfToken = null;
let onUnauthorised = () => {};

export function setSession(me) { csrfToken = me ? me.csrf_token : null; }
export function whenUnauthorised(fn) { onUnauthorised = fn; }

async function request(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, 'network', err.message || 'network error');
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const e = (data && data.error) || {};
    if (response.status === 401 && !quiet401) onUnauthorised();
    throw new ApiError(response.status, e.code || `http_${response.status}`, e.message || response.statusText, e.field);
  }
  return data;
}

/** Query string from an object, leaving out empty values; arrays become comma lists. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;

export const api = {
  config: () => request('GET', '/api/v1/config'),
  me: () => request('GET', '/api/v1/auth/me', undefined, { quiet401: true }),
  login: (username, password) => request('POST', '/api/v1/auth/login', { username, password }, { quiet401: true }),
  logout: () => request('POST', '/api/v1/auth/logout'),
  mapSites: () => request('GET', '/api/v1/map/sites'),
  site: (id) => request('GET', `/api/v1/sites/${enc(id)}`),
  areas: () => request('GET', '/api/v1/areas'),
  devices: (health) => request('GET', `/api/v1/devices${query({ health })}`),
  readings: (sensorId, params) => request('GET', `/api/v1/sensors/${enc(sensorId)}/readings${query(params)}`),
  forecast: (sensorId) => request('GET', `/api/v1/sensors/${enc(sensorId)}/forecast`),
  alerts: (params) => request('GET', `/api/v1/alerts${query(params)}`),
  alert: (id) => request('GET', `/api/v1/alerts/${enc(id)}`),
  ack: (id, note) => request('POST', `/api/v1/alerts/${enc(id)}/ack`, { note: note || null }),
  bulkAck: (ids, note) => request('POST', '/api/v1/alerts/ack', { alert_ids: ids, note: note || null }),
  assign: (id, assignee) => request('POST', `/api/v1/alerts/${enc(id)}/assign`, { assignee: assignee || null }),
  comment: (id, text) => request('POST', `/api/v1/alerts/${enc(id)}/comments`, { text }),
  silences: (active) => request('GET', `/api/v1/silences${query({ active })}`),
  previewSilence: (body) => request('POST', '/api/v1/silences/preview', body),
  createSilence: (body) => request('POST', '/api/v1/silences', body),
  expireSilence: (id) => request('DELETE', `/api/v1/silences/${enc(id)}`),
  users: () => request('GET', '/api/v1/users'),
};

// The public REST API and the meeting event stream, nothing else.

const TOKEN = 'dais.token';
const WHO = 'dais.operator';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function operator() {
  const s = sessionStorage.getItem(WHO);
  return s ? JSON.parse(s) : null;
}

function forget() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(WHO);
}

/** Calls `method path` with an optional JSON body; resolves to the JSON answer (or null). */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', String(e.message || e));
  }
  const text = await resp.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!resp.ok) {
    if (resp.status === 401 && path !== '/auth/login') {
      forget();
      window.dispatchEvent(new Event('dais:logged-out'));
    }
    throw new ApiError(resp.status, json?.code ?? 'error', json?.message ?? resp.statusText);
  }
  return json;
}

export async function login(username, password) {
  const r = await api('POST', '/auth/login', { username, password });
  sessionStorage.setItem(TOKEN, r.token);
  sessionStorage.setItem(WHO, JSON.stringify(r.operator));
  return r.operator;
}

/** Fetches the logged-in operator (`GET /me`) and keeps it for the session. */
export async function refreshOperator() {
  const me = await api('GET', '/me');
  sessionStorage.setItem(WHO, JSON.stringify(me));
  return me;
}

export async function logout() {
  try {
    await api('POST', '/auth/logout');
  } finally {
    forget();
  }
}

/**
 * Opens a meeting's event stream and keeps it open: on a drop it reconnects (1 s, 2 s, ... up
 * to 10 s) and calls `onState(true)` again, so the caller can refetch the snapshot for what it
 * missed. The bearer token rides in a `dais.bearer.<token>` subprotocol because a browser
 * cannot set headers on a WebSocket. Returns a function that closes it for good.
 */
export function events(number, onEvent, onState) {
  let ws = null;
  let closed = false;
  let delay = 1000;
  let timer = null;
  const open = () => {
    const t = token();
    if (!t || closed) return;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${proto}://${location.host}/api/v1/meetings/${encodeURIComponent(number)}/events`, [
      'dais.v1',
      `dais.bearer.${t}`,
    ]);
    ws.onopen = () => {
      delay = 1000;
      onState(true);
    };
    ws.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch {
        return;
      }
      onEvent(ev);
    };
    ws.onclose = () => {
      onState(false);
      if (closed) return;
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(timer);
    if (ws) ws.close();
  };
}

// The admin token and the calls the console makes: its own data endpoints
// and the REST API's actions. The token travels in the Authorization
// header only, never in a URL.

const KEY = "shoal.console.token";
export const API = "/streammanager/api/4.0";

export function token() {
  return sessionStorage.getItem(KEY) || "";
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

// AuthError is thrown for 401 and 403 answers.
export class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// request calls url with the token and returns the parsed JSON answer,
// throwing an Error with the server's message when it is not 2xx.
export async function request(method, url, body, tok = token()) {
  const init = { method, headers: { Authorization: "Bearer " + tok }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const msg = (data && (data.error || data.errorMessage)) || `${res.status} ${res.statusText}`;
    if (res.status === 401 || res.status === 403) throw new AuthError(res.status, msg);
    throw new Error(msg);
  }
  return data;
}

// checkSession asks whether tok is the admin token.
export function checkSession(tok) {
  return request("GET", "api/session", undefined, tok);
}

// The REST API's actions (Red5 Pro v4.0 shapes).
export const actions = {
  createGroup: (g) => request("POST", `${API}/admin/nodegroup`, g),
  launchOrigin: (group) => request("POST", `${API}/admin/nodegroup/${encodeURIComponent(group)}/node/origin`),
  sunset: (ids) => request("POST", `${API}/admin/node/sunset`, ids),
  terminate: (id, force) =>
    request("DELETE", `${API}/admin/node/${encodeURIComponent(id)}${force ? "?force=true" : ""}`),
  policy: (name) => request("GET", `${API}/admin/configurations/scalepolicy/${encodeURIComponent(name)}`),
  updatePolicy: (name, env) =>
    request("PUT", `${API}/admin/configurations/scalepolicy/${encodeURIComponent(name)}`, env),
  setAlarm: (role, threshold) =>
    request("POST", `${API}/admin/alarm/scaleout/default?type=${encodeURIComponent(role)}&threshold=${threshold}`),
};

// events reads the server-sent events of the console with fetch (unlike
// EventSource, fetch can send the Authorization header) and calls onData
// with each update's parsed data until signal aborts or the stream ends.
export async function events(signal, onOpen, onData) {
  const res = await fetch("api/events", {
    headers: { Authorization: "Bearer " + token(), Accept: "text/event-stream" },
    cache: "no-store",
    signal,
  });
  if (res.status === 401 || res.status === 403) {
    let msg = res.statusText;
    try { msg = (await res.json()).error; } catch { /* keep the status text */ }
    throw new AuthError(res.status, msg);
  }
  if (!res.ok || !res.body) throw new Error(`events: ${res.status} ${res.statusText}`);
  onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data) onData(data);
    }
  }
}

// The console's only way to the server: /api/v1 with the session cookie, and the CSRF token
// (from login or /auth/session) on every request that changes something.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Session {
  user: string;
  role: "analyst" | "admin";
  csrf_token?: string;
}

let csrf = "";
let onUnauthorized: () => void = () => {};

export function whenLoggedOut(f: () => void): void {
  onUnauthorized = f;
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = data?.error?.message ?? (text || res.statusText);
    if (res.status === 401 && !path.startsWith("/auth/")) onUnauthorized();
    throw new ApiError(res.status, message);
  }
  return data as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);

export async function login(username: string, password: string): Promise<Session> {
  const s = await api<Session>("POST", "/auth/login", { username, password });
  csrf = s.csrf_token ?? "";
  return s;
}

export async function currentSession(): Promise<Session | null> {
  try {
    const s = await api<Session>("GET", "/auth/session");
    csrf = s.csrf_token ?? "";
    return s;
  } catch {
    return null;
  }
}

export async function logout(): Promise<void> {
  await api("POST", "/auth/logout").catch(() => {});
  csrf = "";
}

/** `a=1&b=2` from the values that are set. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

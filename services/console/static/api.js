// The /v1 API with the signed-in token. The token lives in sessionStorage: it is gone when the
// tab closes and is never written anywhere else.

const TOKEN_KEY = 'jc.token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Relative to the console's own address, so a service mounted under a path prefix still works.
function url(path, params) {
  const u = new URL(`..${path}`, document.baseURI);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') u.searchParams.set(key, value);
  }
  return u;
}

export async function get(path, params, { bearer } = {}) {
  const credential = bearer ?? token();
  let response;
  try {
    response = await fetch(url(path, params), {
      headers: { Accept: 'application/json', Authorization: `Bearer ${credential}` },
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, err instanceof Error ? err.message : String(err));
  }
  if (!response.ok) {
    let message = response.statusText;
    try {
      const body = await response.json();
      message = body.error || message;
    } catch {
      // Not JSON (a proxy's page, say): the status text is all there is.
    }
    if (response.status === 401 && bearer === undefined) {
      window.dispatchEvent(new CustomEvent('jc:unauthorized'));
    }
    throw new ApiError(response.status, message);
  }
  return response.json();
}

// Calls to the learnbot API, which serves this page: every call sends `Authorization: tma
// <Telegram.WebApp.initData>`, and every error is an RFC 9457 problem document.

// The page is served at <service>/app/, so the API is one level up (also behind a path prefix).
const API_ROOT = new URL("../", document.baseURI);
const LANGUAGE_TAG = /^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$/;

export class ApiError extends Error {
  // `problem` is the problem document, or null when the answer was none (a network failure, or
  // a proxy's own error page); `locale` is the answer's Content-Language, if any.
  constructor(status, problem, locale) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.locale = locale;
  }

  get retryable() {
    return this.status === 0 || this.status === 503;
  }
}

export class Api {
  constructor(initData, languageHint) {
    this.initData = initData;
    // Until the service knows the user, it localizes by Accept-Language: the Telegram
    // client's language, so that a refused sign-in is explained in it.
    this.languageHint = LANGUAGE_TAG.test(languageHint ?? "") ? languageHint : null;
  }

  async call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (this.initData) headers.Authorization = `tma ${this.initData}`;
    if (this.languageHint) headers["Accept-Language"] = this.languageHint;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(new URL(path, API_ROOT), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, null, null);
    }
    const locale = response.headers.get("Content-Language");
    const type = response.headers.get("Content-Type") ?? "";
    let content = null;
    if (response.status !== 204 && /json/.test(type)) {
      try {
        content = await response.json();
      } catch {
        content = null;
      }
    }
    if (!response.ok) {
      const problem = content !== null && typeof content.detail === "string" ? content : null;
      throw new ApiError(response.status, problem, locale);
    }
    return { content, locale };
  }

  get(path) {
    return this.call("GET", path);
  }

  post(path, body) {
    return this.call("POST", path, body);
  }

  put(path, body) {
    return this.call("PUT", path, body);
  }

  delete(path) {
    return this.call("DELETE", path);
  }
}

export function segment(value) {
  return encodeURIComponent(String(value));
}

// The Folio HTTP API as the page uses it: JSON requests, answers streamed as Server-Sent Events
// over POST (fetch + a stream reader: EventSource can only GET), and one error type.

/** What went wrong, in words a reader can act on. kind: http | network | stream | interrupted */
export class ApiError extends Error {
  constructor(kind, { status = 0, code = "", message = "", requestId = "", retryAfter = null } = {}) {
    super(message || kind);
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/** Splits a text/event-stream into (event, data) pairs; any line ending (\r\n, \n, \r). */
export class SSEParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.name = "";
    this.data = [];
  }

  push(text) {
    this.buffer += text;
    const lineEnd = /\r\n|\n|\r/g;
    let start = 0;
    let match;
    while ((match = lineEnd.exec(this.buffer)) !== null) {
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, match.index));
      start = lineEnd.lastIndex;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onEvent(this.name || "message", this.data.join("\n"));
      this.name = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return; // comment / keep-alive ping
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.name = value;
    else if (field === "data") this.data.push(value);
  }
}

function retrySeconds(response) {
  const header = response.headers.get("Retry-After");
  const seconds = header === null ? NaN : Number.parseInt(header, 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = (body && body.error) || {};
  return new ApiError("http", {
    status: response.status,
    code: typeof error.code === "string" ? error.code : "",
    message: typeof error.message === "string" ? error.message : `HTTP ${response.status}`,
    requestId: typeof error.request_id === "string" ? error.request_id : "",
    retryAfter: retrySeconds(response),
  });
}

/**
 * A client for one Folio origin. `auth` (optional) gives the access token and is asked to
 * refresh it once when the server answers 401.
 */
export class FolioClient {
  constructor({ base = "", auth = null } = {}) {
    this.base = base;
    this.auth = auth;
  }

  async send(method, path, body, { signal, accept = "application/json", retry = true } = {}) {
    const headers = { Accept: accept };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = this.auth ? this.auth.token() : null;
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        credentials: "omit", // no cookies: nothing ambient for another site to ride on
        cache: "no-store",
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError("network", { message: "The server could not be reached." });
    }
    if (response.status === 401 && token && retry && (await this.auth.refresh())) {
      return this.send(method, path, body, { signal, accept, retry: false });
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  async json(method, path, body, options) {
    const response = await this.send(method, path, body, options);
    if (response.status === 204) return null;
    return response.json();
  }

  /**
   * POST an SSE answer endpoint (/query/stream, /sessions/{id}/messages/stream). Calls
   * onDelta(text) per `delta`; resolves with the `done` payload; rejects with ApiError:
   * "stream" for an `error` event, "interrupted" when the stream ends without `done`.
   */
  async stream(path, body, { onDelta, signal } = {}) {
    const response = await this.send("POST", path, body, { signal, accept: "text/event-stream" });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let done = null;
    let failure = null;
    const parser = new SSEParser((name, data) => {
      let payload;
      try {
        payload = JSON.parse(data);
      } catch {
        return;
      }
      if (name === "delta" && typeof payload.text === "string") {
        if (onDelta) onDelta(payload.text);
      } else if (name === "done") {
        done = payload;
      } else if (name === "error") {
        failure = payload.error || {};
      }
    });
    try {
      while (!done && !failure) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError("interrupted", { message: "The connection was lost mid-answer." });
    } finally {
      reader.cancel().catch(() => {});
    }
    if (failure) {
      throw new ApiError("stream", {
        code: failure.code || "",
        message: failure.message || "The answer failed.",
        requestId: failure.request_id || "",
      });
    }
    if (!done) {
      throw new ApiError("interrupted", { message: "The connection was lost mid-answer." });
    }
    return done;
  }
}

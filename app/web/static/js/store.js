// Small wrappers over Web Storage that never throw (storage can be off, full or partitioned).

function safe(area) {
  try {
    const storage = window[area];
    const probe = "folio.probe";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
    return storage;
  } catch {
    return null;
  }
}

const memory = new Map();

function read(area, key) {
  const storage = safe(area);
  return storage ? storage.getItem(key) : memory.get(`${area}:${key}`) ?? null;
}

function write(area, key, value) {
  const storage = safe(area);
  try {
    if (value === null) {
      if (storage) storage.removeItem(key);
      else memory.delete(`${area}:${key}`);
    } else if (storage) {
      storage.setItem(key, value);
    } else {
      memory.set(`${area}:${key}`, value);
    }
  } catch {
    // quota exceeded: the page keeps working, it just forgets on reload
  }
}

const SESSIONS = "folio.sessions";
const MAX_SESSIONS = 50;

/**
 * Conversations this browser started anonymously: their ids are the only credential
 * (GET /sessions needs an identity), so they are remembered here, newest first.
 */
export const anonymousSessions = {
  list() {
    try {
      const items = JSON.parse(read("localStorage", SESSIONS) || "[]");
      return Array.isArray(items)
        ? items.filter((s) => s && typeof s.id === "string" && s.id.length <= 64)
        : [];
    } catch {
      return [];
    }
  },
  remember(id, title) {
    const rest = this.list().filter((s) => s.id !== id);
    const existing = this.list().find((s) => s.id === id);
    const entry = { id, title: (existing && existing.title) || title || null, at: Date.now() };
    write("localStorage", SESSIONS, JSON.stringify([entry, ...rest].slice(0, MAX_SESSIONS)));
  },
  forget(id) {
    write("localStorage", SESSIONS, JSON.stringify(this.list().filter((s) => s.id !== id)));
  },
};

/** The refresh token lives for this tab only (sessionStorage); the access token in memory. */
export const refreshToken = {
  get: () => read("sessionStorage", "folio.refresh"),
  set: (value) => write("sessionStorage", "folio.refresh", value),
};

/**
 * The widget's current conversation. In a cross-site frame most browsers now refuse storage
 * (third-party storage blocking): then it lasts as long as the host page stays open.
 */
export const widgetSession = {
  get: () => read("localStorage", "folio.widget.session"),
  set: (value) => write("localStorage", "folio.widget.session", value),
};

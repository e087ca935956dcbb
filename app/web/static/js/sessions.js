// The list of conversations: the account's own (GET /sessions) when signed in, otherwise the
// ones this browser started anonymously (their ids are kept in localStorage).

import { ApiError } from "./api.js";
import { anonymousSessions } from "./store.js";

function titleOf(session) {
  return session.title || "Untitled conversation";
}

export class SessionList {
  constructor({ list, note, client, auth, onPick, onDeleted }) {
    this.list = list;
    this.note = note;
    this.client = client;
    this.auth = auth;
    this.onPick = onPick;
    this.onDeleted = onDeleted;
    this.current = null;
  }

  remember(id, title) {
    if (!this.auth.user) anonymousSessions.remember(id, title);
    this.current = id;
    return this.refresh();
  }

  async items() {
    if (!this.auth.user) return anonymousSessions.list();
    const page = await this.client.json("GET", "/sessions?limit=50");
    return page.data;
  }

  async refresh() {
    let items;
    try {
      items = await this.items();
    } catch (err) {
      this.note.textContent =
        err instanceof ApiError && err.kind === "network"
          ? "Conversations could not be loaded: no connection."
          : "Conversations could not be loaded.";
      return;
    }
    this.note.textContent = items.length
      ? ""
      : this.auth.user
        ? "No conversations yet."
        : "Conversations you start appear here (kept in this browser).";
    this.list.replaceChildren(...items.map((item) => this.row(item)));
  }

  row(item) {
    const li = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "session-link";
    open.textContent = titleOf(item);
    if (item.id === this.current) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => this.pick(item.id));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "session-delete";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Delete conversation: ${titleOf(item)}`);
    remove.title = "Delete";
    remove.addEventListener("click", () => this.remove(item.id));
    li.append(open, remove);
    return li;
  }

  async pick(id) {
    try {
      const detail = await this.client.json("GET", `/sessions/${encodeURIComponent(id)}`);
      this.current = id;
      this.onPick(detail);
      await this.refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        anonymousSessions.forget(id);
        await this.refresh();
        this.note.textContent =
          err.code === "session_expired"
            ? "That conversation has expired."
            : "That conversation no longer exists.";
        return;
      }
      this.note.textContent = "That conversation could not be opened.";
    }
  }

  async remove(id) {
    try {
      await this.client.json("DELETE", `/sessions/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) {
        this.note.textContent = "The conversation could not be deleted.";
        return;
      }
    }
    anonymousSessions.forget(id);
    if (this.current === id) {
      this.current = null;
      this.onDeleted();
    }
    await this.refresh();
  }
}

// One conversation on screen: asks over the session SSE endpoint, draws the answer as it
// streams, then its [n] citations, sources and feedback buttons; shows every failure state.
// Server text only ever reaches the page through textContent / text nodes.

import { ApiError } from "./api.js";
import { splitAnswer, whereOf } from "./citations.js";
import { feedbackButtons } from "./feedback.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** "42 seconds", "3 min 5 s", "2 h 10 min". */
export function formatWait(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} ${s === 1 ? "second" : "seconds"}`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export class Conversation {
  /**
   * parts: {thread, form, input, button, notice, announcer, empty}; passage: PassagePanel;
   * onSession(id, title) when a conversation starts, onAnswered() when an answer is stored.
   */
  constructor({
    client,
    parts,
    passage,
    onSession = () => {},
    onAnswered = () => {},
    onAuthLost = () => {},
  }) {
    this.client = client;
    this.parts = parts;
    this.passage = passage;
    this.onSession = onSession;
    this.onAnswered = onAnswered;
    this.onAuthLost = onAuthLost;
    this.sessionId = null;
    this.controller = null;
    this.waitTimer = null;
    parts.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.controller) this.controller.abort();
      else this.submit();
    });
    parts.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        parts.form.requestSubmit();
      }
    });
  }

  submit() {
    const question = this.parts.input.value.trim();
    if (!question) {
      this.setNotice("Type a question first.", "info");
      this.parts.input.focus();
      return;
    }
    if (this.waitTimer) return;
    this.parts.input.value = "";
    this.ask(question);
  }

  /** Empty the screen for a new conversation (the server session is made on the first ask). */
  reset() {
    if (this.controller) this.controller.abort();
    this.sessionId = null;
    this.parts.thread.replaceChildren();
    if (this.parts.empty) this.parts.thread.append(this.parts.empty);
    this.passage.close();
    this.setNotice("");
  }

  /** Show a stored conversation (GET /sessions/{id}). */
  show(detail) {
    this.reset();
    this.sessionId = detail.id;
    if (detail.messages.length && this.parts.empty) this.parts.empty.remove();
    for (const message of detail.messages) {
      const turn = this.addTurn(message.question);
      this.finish(turn, {
        answer: message.answer,
        sources: message.sources || [],
        found: (message.sources || []).length > 0,
        message_id: message.id,
        standalone_question: message.standalone_question,
      });
    }
  }

  setNotice(text, tone = "info") {
    const { notice } = this.parts;
    notice.textContent = text;
    notice.dataset.tone = tone;
    notice.hidden = !text;
  }

  setBusy(busy) {
    const { button, input } = this.parts;
    button.textContent = busy ? "Stop" : "Ask";
    button.setAttribute("aria-label", busy ? "Stop the answer" : "Ask");
    button.classList.toggle("busy", busy);
    input.setAttribute("aria-busy", String(busy));
  }

  addTurn(question) {
    if (this.parts.empty) this.parts.empty.remove();
    const article = el("article", "turn");
    const heading = el("h2", "question");
    heading.append(el("span", "visually-hidden", "Question: "), document.createTextNode(question));
    const rewritten = el("p", "rewritten");
    rewritten.hidden = true;
    const answer = el("div", "answer");
    const text = el("p", "answer-text");
    const state = el("div", "state");
    state.hidden = true;
    const typing = el("span", "typing");
    typing.setAttribute("aria-hidden", "true");
    typing.append(el("span"), el("span"), el("span"));
    answer.append(typing, text, state);
    const foot = el("div", "turn-foot");
    article.append(heading, rewritten, answer, foot);
    this.parts.thread.append(article);
    article.scrollIntoView({ block: "end" });
    return { question, article, rewritten, answer, text, state, typing, foot };
  }

  async ensureSession(question) {
    if (this.sessionId) return this.sessionId;
    const session = await this.client.json("POST", "/sessions", {});
    this.sessionId = session.id;
    this.onSession(session.id, question);
    return session.id;
  }

  async ask(question, { retried = false } = {}) {
    this.setNotice("");
    const turn = this.addTurn(question);
    turn.article.setAttribute("aria-busy", "true");
    const controller = new AbortController();
    this.controller = controller;
    this.setBusy(true);
    performance.mark("folio:ask");
    const started = performance.now();
    let first = true;
    try {
      const id = await this.ensureSession(question);
      const done = await this.client.stream(
        `/sessions/${encodeURIComponent(id)}/messages/stream`,
        { query: question },
        {
          signal: controller.signal,
          onDelta: (piece) => {
            if (first) {
              first = false;
              turn.typing.remove();
              performance.measure("folio:ttft", { start: started, end: performance.now() });
            }
            turn.text.append(document.createTextNode(piece));
            this.follow(turn);
          },
        },
      );
      performance.measure("folio:answer", { start: started, end: performance.now() });
      this.finish(turn, done);
      this.onAnswered();
      this.parts.announcer.textContent =
        done.found === false ? "No answer found." : "Answer ready.";
    } catch (err) {
      const gone = err instanceof ApiError && err.status === 404 && this.sessionId && !retried;
      if (gone && (err.code === "session_expired" || err.code === "not_found")) {
        // The conversation expired (or was deleted): carry on in a new one.
        turn.article.remove();
        this.sessionId = null;
        this.setBusy(false);
        this.controller = null;
        await this.ask(question, { retried: true });
        this.setNotice("That conversation had expired, so a new one was started.", "info");
        return;
      }
      this.fail(turn, err);
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        this.setBusy(false);
      }
      turn.article.removeAttribute("aria-busy");
    }
  }

  follow(turn) {
    const { thread } = this.parts;
    const scroller = thread.scrollHeight > thread.clientHeight ? thread : document.scrollingElement;
    const nearEnd = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
    if (nearEnd) turn.article.scrollIntoView({ block: "end" });
  }

  /** The final answer: citations become buttons, then sources and feedback. */
  finish(turn, done) {
    turn.typing.remove();
    const sources = Array.isArray(done.sources) ? done.sources : [];
    if (done.standalone_question && done.standalone_question !== turn.question) {
      turn.rewritten.textContent = `Searched for: ${done.standalone_question}`;
      turn.rewritten.hidden = false;
    }
    if (done.found === false || !sources.length) {
      turn.article.classList.add("no-answer");
      turn.text.replaceChildren();
      turn.text.hidden = true;
      this.showState(turn, "no-answer", "No answer found in the book.", [
        done.answer || "",
        "Try other words, or ask about something the book covers.",
      ]);
    } else {
      this.drawAnswer(turn, done.answer, sources);
      turn.foot.append(this.sourceList(sources, done.answer));
    }
    if (done.message_id) {
      turn.foot.append(
        feedbackButtons(this.client, done.message_id, this.sessionId, (err) =>
          this.describe(err).title,
        ),
      );
    }
  }

  drawAnswer(turn, answer, sources) {
    turn.text.replaceChildren();
    for (const part of splitAnswer(answer)) {
      const source = part.n ? sources.find((s) => s.n === part.n) : null;
      if (part.text !== undefined) {
        turn.text.append(document.createTextNode(part.text));
      } else if (!source) {
        turn.text.append(document.createTextNode(`[${part.n}]`));
      } else {
        const sup = el("sup", "cite");
        const button = el("button", "cite-button", `[${part.n}]`);
        button.type = "button";
        button.dataset.n = String(part.n);
        button.setAttribute("aria-label", `Source ${part.n}: ${whereOf(source)}`);
        button.addEventListener("click", () =>
          this.passage.open(part.n, source, part.claim, button),
        );
        sup.append(button);
        turn.text.append(sup);
      }
    }
  }

  sourceList(sources, answer) {
    const details = el("details", "sources");
    details.append(el("summary", null, `Sources (${sources.length})`));
    const list = el("ol");
    const claims = new Map();
    for (const part of splitAnswer(answer)) {
      if (part.n && !claims.has(part.n)) claims.set(part.n, part.claim);
    }
    for (const source of sources) {
      const item = el("li");
      const button = el("button", "source-link", `[${source.n}] ${whereOf(source)}`);
      button.type = "button";
      button.addEventListener("click", () =>
        this.passage.open(source.n, source, claims.get(source.n) || "", button),
      );
      item.append(button);
      list.append(item);
    }
    details.append(list);
    return details;
  }

  showState(turn, kind, title, lines = [], action = null) {
    turn.state.replaceChildren();
    turn.state.className = `state state-${kind}`;
    turn.state.append(el("p", "state-title", title));
    for (const line of lines) if (line) turn.state.append(el("p", null, line));
    if (action) turn.state.append(action);
    turn.state.hidden = false;
  }

  /** Words for a failure: {title, lines, retry, wait}. */
  describe(err) {
    if (!(err instanceof ApiError)) return { title: "Something went wrong.", lines: [], retry: true };
    if (err.kind === "network") {
      return {
        title: "Could not reach Folio.",
        lines: ["Check your connection, then try again."],
        retry: true,
      };
    }
    if (err.kind === "interrupted") {
      return {
        title: "The connection was lost before the answer finished.",
        lines: ["The text above may be incomplete."],
        retry: true,
      };
    }
    if (err.status === 429) {
      return {
        title: "You have asked too many questions in a short time.",
        lines: [],
        retry: true,
        wait: err.retryAfter ?? 60,
      };
    }
    const id = err.requestId ? ` (request id ${err.requestId})` : "";
    if (err.status === 401) {
      return { title: "Please sign in again.", lines: [err.message + id], retry: false };
    }
    if (err.status === 503 || err.kind === "stream") {
      return {
        title: "Folio cannot answer right now.",
        lines: [err.message + id, "Please try again in a moment."],
        retry: true,
      };
    }
    return { title: "The question was not accepted.", lines: [err.message + id], retry: false };
  }

  fail(turn, err) {
    turn.typing.remove();
    if (err && err.name === "AbortError") {
      this.showState(turn, "stopped", "Stopped.");
      return;
    }
    const info = this.describe(err);
    if (err instanceof ApiError && err.status === 401) {
      this.onAuthLost(); // clears the screen: say why where the reader will look
      this.parts.input.value = turn.question;
      this.setNotice("Your sign-in has expired. Sign in again, or ask without an account.", "warn");
      return;
    }
    let action = null;
    if (info.retry && !info.wait) {
      action = el("button", "retry", "Try again");
      action.type = "button";
      action.addEventListener("click", () => {
        turn.article.remove();
        this.ask(turn.question);
      });
    }
    if (!turn.text.textContent) turn.text.hidden = true;
    this.showState(turn, info.wait ? "rate-limited" : "error", info.title, info.lines, action);
    turn.article.classList.add("failed");
    if (!this.parts.input.value) this.parts.input.value = turn.question;
    if (info.wait) this.waitOut(turn, info.wait);
  }

  /** The 429 countdown: the Ask button waits, the message says when asking works again. */
  waitOut(turn, seconds) {
    const line = el("p", "wait");
    turn.state.append(line);
    const until = Date.now() + seconds * 1000;
    const { button } = this.parts;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(this.waitTimer);
        this.waitTimer = null;
        button.disabled = false;
        line.textContent = "You can ask again now.";
        this.setNotice("");
        return;
      }
      line.textContent = `You can ask again in ${formatWait(left)}.`;
    };
    clearInterval(this.waitTimer);
    button.disabled = true;
    this.waitTimer = setInterval(tick, 1000);
    tick();
    const at = new Date(until).toLocaleTimeString();
    this.setNotice(`Rate limit reached: you can ask again at ${at}.`, "warn");
  }
}

// The page inside the widget's frame (/widget): the same conversation as the reader's page,
// anonymous only (no sign-in, no keys), one current conversation kept for follow-ups.

import { ApiError, FolioClient } from "./api.js";
import { Conversation } from "./chat.js";
import { PassagePanel } from "./passage.js";
import { widgetSession } from "./store.js";

const $ = (id) => document.getElementById(id);
const client = new FolioClient();
const passage = new PassagePanel($("passage"));

const conversation = new Conversation({
  client,
  passage,
  parts: {
    thread: $("thread"),
    empty: $("empty-state"),
    form: $("ask-form"),
    input: $("question"),
    button: $("ask-button"),
    notice: $("notice"),
    announcer: $("announcer"),
  },
  onSession: (id) => widgetSession.set(id),
});

// Only "close" crosses to the embedding page, and it carries nothing else.
function closeWidget() {
  const parentOrigin = (window.location.ancestorOrigins || [])[0] || "*";
  window.parent.postMessage({ type: "folio:close" }, parentOrigin);
}

$("close-widget").addEventListener("click", closeWidget);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && passage.root.hidden) closeWidget();
});
$("new-session").addEventListener("click", () => {
  conversation.reset();
  widgetSession.set(null);
  $("question").focus();
});
window.addEventListener("message", (event) => {
  if (event.source === window.parent && event.data && event.data.type === "folio:focus") {
    $("question").focus();
  }
});

async function resume() {
  const id = widgetSession.get();
  if (!id) return;
  try {
    conversation.show(await client.json("GET", `/sessions/${encodeURIComponent(id)}`));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) widgetSession.set(null);
  }
}
resume();

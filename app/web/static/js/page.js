// The reader's page at "/": wires the conversation, the session list, the passage panel,
// sign-in and the offline banner together.

import { FolioClient } from "./api.js";
import { Auth, LoginDialog } from "./auth.js";
import { Conversation } from "./chat.js";
import { PassagePanel } from "./passage.js";
import { SessionList } from "./sessions.js";

const $ = (id) => document.getElementById(id);

const account = {
  name: $("account-name"),
  signIn: $("sign-in"),
  signOut: $("sign-out"),
};

let sessions = null;
let conversation = null;

const auth = new Auth({
  onChange(user) {
    account.name.textContent = user ? `Signed in as ${user.email}` : "";
    account.signIn.hidden = Boolean(user);
    account.signOut.hidden = !user;
    if (conversation) conversation.reset();
    if (sessions) {
      sessions.current = null;
      sessions.refresh();
    }
  },
});
const client = new FolioClient({ auth });
const passage = new PassagePanel($("passage"));

conversation = new Conversation({
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
  onSession: (id, title) => sessions.remember(id, title),
  onAnswered: () => auth.user && sessions.refresh(), // the server titles it on the first answer
  onAuthLost: () => auth.forget(),
});

sessions = new SessionList({
  list: $("session-list"),
  note: $("sessions-note"),
  client,
  auth,
  onPick(detail) {
    conversation.show(detail);
    toggleSessions(false);
    $("question").focus();
  },
  onDeleted: () => conversation.reset(),
});

const login = new LoginDialog($("login-dialog"), auth, {
  onSignedIn: () => $("question").focus(),
});

account.signIn.addEventListener("click", () => login.open(account.signIn));
account.signOut.addEventListener("click", async () => {
  await auth.logout();
  account.signIn.focus();
});

$("new-session").addEventListener("click", () => {
  conversation.reset();
  sessions.current = null;
  sessions.refresh();
  toggleSessions(false);
  $("question").focus();
});

// On narrow screens the conversation list is a drawer behind a button.
const toggle = $("sessions-toggle");
function toggleSessions(open) {
  const show = open ?? toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(show));
  document.body.classList.toggle("sessions-open", show);
}
toggle.addEventListener("click", () => toggleSessions());
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.classList.contains("sessions-open")) {
    toggleSessions(false);
    toggle.focus();
  }
});

const offline = $("offline-banner");
const showOnline = () => {
  offline.hidden = navigator.onLine;
};
window.addEventListener("online", showOnline);
window.addEventListener("offline", showOnline);
showOnline();

auth
  .restore()
  .catch(() => null)
  .finally(() => sessions.refresh());

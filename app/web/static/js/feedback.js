// Thumbs up / down under an answer (POST /messages/{id}/feedback); rating again replaces it.

const SVG = "http://www.w3.org/2000/svg";
// Material Design "thumb_up" (Apache-2.0); the down thumb is the same path turned over.
const THUMB =
  "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

function thumb(down) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  if (down) svg.classList.add("down");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", THUMB);
  svg.append(path);
  return svg;
}

/** A labelled group of two toggle buttons and a status line; `explain(err)` words failures.
 * `sessionId` proves an anonymous reader's right to rate (the session id is its capability). */
export function feedbackButtons(client, messageId, sessionId, explain) {
  const group = document.createElement("div");
  group.className = "feedback";
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", "Was this answer helpful?");
  const status = document.createElement("span");
  status.className = "feedback-status";
  status.setAttribute("role", "status");
  const buttons = [
    [1, "Helpful", false],
    [-1, "Not helpful", true],
  ].map(([rating, label, down]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.title = label;
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-pressed", "false");
    button.append(thumb(down));
    button.addEventListener("click", async () => {
      try {
        await client.json("POST", `/messages/${messageId}/feedback`, {
          rating,
          session_id: sessionId,
        });
        for (const other of buttons) other.setAttribute("aria-pressed", String(other === button));
        status.textContent = "Thanks for the feedback.";
      } catch (err) {
        status.textContent = `Feedback not saved: ${explain(err)}`;
      }
    });
    return button;
  });
  group.append(...buttons, status);
  return group;
}

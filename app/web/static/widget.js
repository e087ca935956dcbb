/*
 * Folio widget loader. On a textbook site:
 *   <script src="https://folio.example/widget.js" data-folio-url="https://folio.example" async></script>
 * adds an "Ask the book" button that opens a small chat panel. The chat itself runs in an
 * iframe served by Folio (/widget): this page's scripts cannot read or change it, and it holds
 * no key. Folio lets only sites in its ALLOWED_ORIGINS_STR frame that page (CSP
 * frame-ancestors); this loader asks first (a CORS request) and shows nothing elsewhere.
 * Optional: data-folio-label="Ask the book".
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || document.querySelector("[data-folio-widget]")) return;
  var origin;
  try {
    origin = new URL(script.getAttribute("data-folio-url") || script.src, document.baseURI).origin;
  } catch (e) {
    return;
  }
  var label = script.getAttribute("data-folio-label") || "Ask the book";

  var CSS = [
    ":host { all: initial; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;",
    "  font: 600 15px/1 system-ui, sans-serif; padding: 12px 18px; border-radius: 999px;",
    "  border: 1px solid #5f2f0a; background: #7a3e0f; color: #fff; cursor: pointer;",
    "  box-shadow: 0 4px 16px rgba(0,0,0,.25); }",
    ".launcher:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 3px; }",
    ".panel { position: fixed; right: 20px; bottom: 76px; z-index: 2147483000;",
    "  width: min(380px, calc(100vw - 24px)); height: min(600px, calc(100vh - 100px));",
    "  border-radius: 14px; overflow: hidden; box-shadow: 0 8px 32px rgba(0,0,0,.3);",
    "  background: #fbfaf7; }",
    ".panel[hidden] { display: none; }",
    "iframe { width: 100%; height: 100%; border: 0; display: block; }",
    "@media (max-width: 480px) { .panel { right: 12px; bottom: 72px; } .launcher { right: 12px; bottom: 12px; } }",
  ].join("\n");

  function mount() {
    var host = document.createElement("div");
    host.setAttribute("data-folio-widget", "");
    var root = host.attachShadow({ mode: "open" }) // styles isolated; the iframe isolates the chat;
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS); // not an inline <style>: works under the host's strict CSP
      root.adoptedStyleSheets = [sheet];
    } else {
      var style = document.createElement("style");
      style.textContent = CSS;
      root.appendChild(style);
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "launcher";
    button.textContent = label;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "folio-panel");
    var panel = document.createElement("div");
    panel.className = "panel";
    panel.id = "folio-panel";
    panel.hidden = true;
    root.appendChild(panel);
    root.appendChild(button);
    var frame = null;
    var loaded = false;

    function open() {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.title = "Folio: ask the book";
        frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms");
        frame.setAttribute("referrerpolicy", "no-referrer");
        frame.addEventListener("load", function () {
          loaded = true;
          focusFrame();
        });
        frame.src = origin + "/widget";
        panel.appendChild(frame);
      }
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      focusFrame();
    }
    function focusFrame() {
      if (loaded && frame.contentWindow && !panel.hidden) {
        frame.contentWindow.postMessage({ type: "folio:focus" }, origin);
      }
    }
    function close() {
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
    button.addEventListener("click", function () {
      if (panel.hidden) open();
      else close();
    });
    window.addEventListener("message", function (event) {
      if (!frame || event.origin !== origin || event.source !== frame.contentWindow) return;
      if (event.data && event.data.type === "folio:close") close();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !panel.hidden) close();
    });
    document.body.appendChild(host);
  }

  // A site that is not in ALLOWED_ORIGINS_STR gets no Access-Control-Allow-Origin, so this
  // fails and no button appears (and Folio's CSP would refuse the frame anyway).
  fetch(origin + "/health", { mode: "cors", credentials: "omit", cache: "no-store" })
    .then(function (response) {
      if (!response.ok) throw new Error("status " + response.status);
      if (document.body) mount();
      else document.addEventListener("DOMContentLoaded", mount);
    })
    .catch(function () {
      console.warn(
        "Folio widget: " + window.location.origin + " may not embed " + origin +
          " (add it to ALLOWED_ORIGINS_STR)",
      );
    });
})();

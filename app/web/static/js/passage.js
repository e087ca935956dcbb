// The cited-passage panel: source number, chapter and section, the passage as text with the
// cited sentence highlighted. Opens from a [n] button and gives focus back to it on close.

import { locate, renderPassage, sectionOf } from "./citations.js";

export class PassagePanel {
  constructor(root) {
    this.root = root;
    this.title = root.querySelector("[data-passage-title]");
    this.book = root.querySelector("[data-passage-book]");
    this.chapter = root.querySelector("[data-passage-chapter]");
    this.section = root.querySelector("[data-passage-section]");
    this.text = root.querySelector("[data-passage-text]");
    this.note = root.querySelector("[data-passage-note]");
    this.opener = null;
    root.querySelector("[data-passage-close]").addEventListener("click", () => this.close());
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.close();
      }
    });
  }

  /** Show source `n` of `sources`; `claim` is the answer's sentence that cites it. */
  open(n, source, claim, opener) {
    this.opener = opener || null;
    this.title.textContent = `Source [${n}]`;
    this.book.textContent = source.book || "";
    this.book.hidden = !source.book;
    this.chapter.textContent = source.chapter || source.document_id || "";
    this.section.textContent = sectionOf(source);
    this.section.hidden = !this.section.textContent;
    const range = claim ? locate(source.text, claim) : null;
    const mark = renderPassage(this.text, source.text, range);
    if (!claim) this.note.textContent = "";
    else if (range && range.exact) this.note.textContent = "Highlighted: the sentence the answer quotes.";
    else if (range) this.note.textContent = "Highlighted: the sentence closest to the answer's claim.";
    else this.note.textContent = "The cited sentence could not be found in this passage.";
    this.root.hidden = false;
    document.body.classList.add("passage-open");
    this.root.focus();
    if (mark) mark.scrollIntoView({ block: "nearest" });
  }

  close() {
    if (this.root.hidden) return;
    this.root.hidden = true;
    document.body.classList.remove("passage-open");
    if (this.opener && this.opener.isConnected) this.opener.focus();
    this.opener = null;
  }
}

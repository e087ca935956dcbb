// Citations: split an answer into text and [n] markers, find the sentence each marker cites,
// and find that sentence in the cited passage so the page can highlight it.

// Sources of fresh regexes: a shared /g regex carries lastIndex from one caller to the next.
const MARKER = String.raw`\[(\d{1,3})\]`;
const SENTENCE_BREAK = String.raw`[.!?]["')\]]*\s+|\n\s*\n`;
const regex = (source) => new RegExp(source, "g");
const STOP = new Set(
  "the and for are but not you all any can had her was one our out has his how its may new now own see two who did get let put say she too use that with have this will your from they been than them then were what when which while into also more most such only over some".split(
    " ",
  ),
);

/** The claim a marker at `index` backs: the text since the previous marker or sentence end. */
export function claimBefore(answer, index) {
  let text = answer.slice(0, index).replace(new RegExp(`(?:\\s*${MARKER})+\\s*$`), "");
  let lastEnd = 0;
  for (const marker of text.matchAll(regex(MARKER))) lastEnd = marker.index + marker[0].length;
  text = text.slice(lastEnd);
  let cut = 0;
  const breaks = regex(SENTENCE_BREAK);
  let match;
  while ((match = breaks.exec(text)) !== null) {
    if (match.index + match[0].length < text.trimEnd().length) cut = match.index + match[0].length;
  }
  return text.slice(cut).replace(/^[\s.,;:!?]+/, "").trim();
}

/** [{text} | {n, claim}] in answer order. */
export function splitAnswer(answer) {
  const parts = [];
  let last = 0;
  const markers = regex(MARKER);
  let match;
  while ((match = markers.exec(answer)) !== null) {
    if (match.index > last) parts.push({ text: answer.slice(last, match.index) });
    parts.push({ n: Number(match[1]), claim: claimBefore(answer, match.index) });
    last = match.index + match[0].length;
  }
  if (last < answer.length) parts.push({ text: answer.slice(last) });
  return parts;
}

/** The text with runs of whitespace collapsed, and for each kept char its original index. */
function collapse(text) {
  let out = "";
  const map = [];
  let space = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      if (!space && out.length) {
        out += " ";
        map.push(i);
      }
      space = true;
    } else {
      out += ch;
      map.push(i);
      space = false;
    }
  }
  return { out, map };
}

function words(text) {
  return new Set(
    (text.toLowerCase().match(/[a-z0-9]{3,}/g) || []).filter((w) => !STOP.has(w)),
  );
}

/** Sentences of a passage as [start, end) ranges of the original text. */
function sentenceRanges(passage) {
  const ranges = [];
  let start = 0;
  const breaks = regex(SENTENCE_BREAK);
  let match;
  while ((match = breaks.exec(passage)) !== null) {
    ranges.push([start, match.index + match[0].trimEnd().length]);
    start = match.index + match[0].length;
  }
  if (start < passage.length) ranges.push([start, passage.length]);
  return ranges.filter(([a, b]) => passage.slice(a, b).trim().length > 0);
}

/**
 * Where the claim is in the passage: {start, end, exact}. Exact when the claim is a verbatim
 * sentence of the passage (as in extractive answers, whitespace aside); otherwise the passage
 * sentence sharing the most content words (an LLM's paraphrase); null when nothing matches.
 */
export function locate(passage, claim) {
  const wanted = collapse(claim.trim()).out;
  if (wanted.length >= 3) {
    const hay = collapse(passage);
    const at = hay.out.indexOf(wanted);
    if (at >= 0) {
      return { start: hay.map[at], end: hay.map[at + wanted.length - 1] + 1, exact: true };
    }
  }
  const claimWords = words(claim);
  let best = null;
  let bestScore = 0;
  for (const [start, end] of sentenceRanges(passage)) {
    const sentence = words(passage.slice(start, end));
    let shared = 0;
    for (const w of claimWords) if (sentence.has(w)) shared += 1;
    const score = shared / Math.sqrt(Math.max(sentence.size, 4));
    if (score > bestScore) {
      bestScore = score;
      best = { start, end, exact: false };
    }
  }
  return best;
}

/** The passage as plain text: markdown syntax (heading marks, code fences, emphasis, inline
 * code ticks, link targets, quote marks) removed, list bullets shown as "•". `map[i]` is the
 * index in `passage` of the text's character i (plus one past the end), so a range found in
 * the passage can be highlighted in the text. Inside code fences only the fences go. */
export function plainText(passage) {
  const drop = new Uint8Array(passage.length);
  const swap = new Map();
  const cut = (a, b) => drop.fill(1, a, b);
  const fenced = [];
  let open = null;
  for (const m of passage.matchAll(/^[ \t]*(?:```|~~~)[^\n]*(?:\n|$)/gm)) {
    cut(m.index, m.index + m[0].length);
    if (open === null) open = m.index;
    else {
      fenced.push([open, m.index]);
      open = null;
    }
  }
  if (open !== null) fenced.push([open, passage.length]);
  const inCode = (i) => fenced.some(([a, b]) => i >= a && i < b);
  const each = (source, fn) => {
    for (const m of passage.matchAll(new RegExp(source, "gm"))) if (!inCode(m.index)) fn(m);
  };
  each(String.raw`^[ \t]*#{1,6}[ \t]+`, (m) => cut(m.index, m.index + m[0].length));
  each(String.raw`^[ \t]*>[ \t]?`, (m) => cut(m.index, m.index + m[0].length));
  each(String.raw`^([ \t]*)[-*+](?=[ \t]+\S)`, (m) => swap.set(m.index + m[1].length, "•"));
  each(String.raw`(!?)\[([^\]\n]+)\]\(([^)\s]*)(?:\s+"[^"\n]*")?\)`, (m) => {
    const textStart = m.index + m[1].length + 1;
    cut(m.index, textStart);
    cut(textStart + m[2].length, m.index + m[0].length);
  });
  each(String.raw`(\x60+)([^\x60\n]+?)\1`, (m) => {
    cut(m.index, m.index + m[1].length);
    cut(m.index + m[0].length - m[1].length, m.index + m[0].length);
  });
  each(String.raw`(\*\*|__)(?=\S)([^\n]*?\S)\1`, (m) => {
    cut(m.index, m.index + 2);
    cut(m.index + m[0].length - 2, m.index + m[0].length);
  });
  each(String.raw`(^|[^\w*])([*_])(?=[^\s*_])([^\n*_]*?[^\s*_])\2(?![\w*])`, (m) => {
    const start = m.index + m[1].length;
    if (drop[start]) return;
    cut(start, start + 1);
    cut(m.index + m[0].length - 1, m.index + m[0].length);
  });
  let text = "";
  const map = [];
  for (let i = 0; i < passage.length; i += 1) {
    if (drop[i]) continue;
    text += swap.get(i) ?? passage[i];
    map.push(i);
  }
  map.push(passage.length);
  return { text: text.replace(/\s+$/, ""), map };
}

/** Fill `el` with the passage as plain text (`plainText`), the located range (indexes in the
 * passage) wrapped in <mark>. */
export function renderPassage(el, passage, range) {
  el.replaceChildren();
  const { text, map } = plainText(passage);
  if (!range) {
    el.append(document.createTextNode(text));
    return null;
  }
  let start = map.findIndex((i) => i >= range.start);
  let end = map.findIndex((i) => i >= range.end);
  if (start < 0) start = text.length;
  if (end < 0 || end > text.length) end = text.length;
  const mark = document.createElement("mark");
  mark.textContent = text.slice(start, end);
  el.append(
    document.createTextNode(text.slice(0, start)),
    mark,
    document.createTextNode(text.slice(end)),
  );
  return mark;
}

/** The section path below the chapter ("Bulk Fermentation › Reading the Dough"). */
export function sectionOf(source) {
  const parts = (source.section || "").split(" > ").filter(Boolean);
  if (parts.length && parts[0] === source.chapter) parts.shift();
  return parts.join(" › ");
}

/** "Chapter 3: Fermentation › Building the Levain" from a source. */
export function whereOf(source) {
  return [source.chapter, sectionOf(source)].filter(Boolean).join(" › ") || source.document_id || "";
}

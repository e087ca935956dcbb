"""Request and response models of the HTTP API, one module per resource (query, sessions,
documents, feedback, auth, keys, users, usage, health, errors); `base` holds what they share.

HTML rule (docs/security.md, docs/API_REFERENCE.md): in reader-facing responses every free-text
field (answers, passages, chapter/section/book titles, questions, session titles, comments,
streamed text) has an `<name>_html` twin that is HTML-escaped and safe to insert as HTML. The
field without the suffix is the raw text, for non-HTML clients: never insert it as HTML.
Identifiers, enums, numbers and timestamps have no twin; display them as text."""

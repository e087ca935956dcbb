"""`python -m evals.compare BEFORE/answers.json AFTER/answers.json [LABEL]`: the paired
comparison of two saved answer runs (e.g. before and after a change to the answerer), as the
Markdown table the eval reports use."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from evals.answering import compare_answers
from evals.report import answer_comparison_md


def main(argv: list[str] | None = None) -> None:
    """Read two `answers.json` files (per-query outcomes by config label) and print their
    paired comparison; LABEL picks the config (default: the first in BEFORE)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        raise SystemExit(__doc__)
    before, after = (json.loads(Path(p).read_text()) for p in args[:2])
    label = args[2] if len(args) > 2 else next(iter(before))
    rows = compare_answers(before[label], after[label])
    sys.stdout.write(answer_comparison_md(rows, "before", "after") + "\n")


if __name__ == "__main__":
    main()

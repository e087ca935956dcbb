"""`python -m app.cli …`: the `folio` command without its entry-point script."""

from app.cli import main

main()

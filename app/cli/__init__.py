"""`folio`: the command line. One module per noun: index, ask, serve, evaluate (`folio eval`),
documents, models, db, keys, users, sessions, feedback, backup (`folio backup` / `restore`), jobs
(`folio jobs`, `folio worker`);
common.py holds what they share (settings, `fail`, consoles)."""

from __future__ import annotations

import sys

import typer

from app.cli.ask import ask
from app.cli.backup import backup, restore
from app.cli.common import say_error
from app.cli.db import db_app
from app.cli.documents import documents
from app.cli.evaluate import eval_
from app.cli.feedback import feedback_app
from app.cli.index import index
from app.cli.jobs import jobs_app, worker
from app.cli.keys import keys_app
from app.cli.models import models_app
from app.cli.serve import serve
from app.cli.sessions import sessions_app
from app.cli.users import users_app

app = typer.Typer(help="Folio: cited answers about your content.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(sessions_app, name="sessions")
app.add_typer(feedback_app, name="feedback")
app.add_typer(models_app, name="models")
app.add_typer(jobs_app, name="jobs")
app.command()(backup)
app.command()(restore)
app.command()(index)
app.command()(documents)
app.command()(ask)
app.command()(serve)
app.command()(worker)
app.command("eval")(eval_)


def main() -> None:
    """Every expected failure is one line naming the cause and the fix, never a traceback."""
    from rich.markup import escape
    from sqlalchemy.exc import DBAPIError

    from app.core.settings import ConfigError
    from app.db.migrate import DatabaseUnreachable
    from indexes.extras import MissingExtra

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ConfigError as exc:
        say_error(str(exc), label="config error")
        sys.exit(2)
    except DatabaseUnreachable as exc:
        say_error(str(exc))
        sys.exit(1)
    except MissingExtra as exc:  # escaped: "folio[export]" is not rich markup
        say_error(escape(str(exc)))
        sys.exit(1)
    except DBAPIError as exc:
        orig = exc.orig or exc
        reason = (str(orig).strip().splitlines() or [""])[0]
        say_error(
            f"database error ({type(orig).__name__}: {reason}); "
            "check database.url in the config file or DATABASE_URL, then `folio db upgrade`"
        )
        sys.exit(1)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        say_error(f"{exc.strerror or exc}{where}")
        sys.exit(1)

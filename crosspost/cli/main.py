"""The `crosspost` command: global options, sub-apps, and one place that turns errors into lines.

Errors a user can cause are CrosspostError: printed as one line on stderr, exit 1. Usage errors are
Click's: exit 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

try:  # Typer 0.2x vendors Click: its exceptions live in the vendored package (private name).
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - a Typer that uses the installed Click
    from click.exceptions import (  # type: ignore[assignment]
        ClickException,
        NoArgsIsHelpError,
    )

from crosspost import __version__
from crosspost.cli import (
    articles,
    audit,
    channels,
    deliveries,
    demo,
    ingest,
    metrics,
    preview,
    report,
    sandbox,
    schedule,
    setup,
    sources,
    worker,
)
from crosspost.cli.common import GlobalOptions, err_console
from crosspost.errors import CrosspostError

app = typer.Typer(
    name="crosspost",
    help="Publish government portal articles to social platforms, on schedule, once each.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crosspost {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration file (default: $CROSSPOST_CONFIG, else ./config/crosspost.toml).",
            dir_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    ctx.obj = GlobalOptions(config=config)


setup.register(app)
app.add_typer(sources.app, name="sources")
ingest.register(app)
app.add_typer(articles.app, name="articles")
app.add_typer(audit.app, name="audit")
app.add_typer(channels.app, name="channels")
app.add_typer(sandbox.app, name="sandbox")
preview.register(app)
schedule.register(app)
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(metrics.app, name="metrics")
worker.register(app)
demo.register(app)
report.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process)."""
    try:
        # Not standalone: Click's usage errors come here, to be printed as one line too.
        result = app(args=argv, prog_name="crosspost", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except CrosspostError as exc:
        _error_line(str(exc) or type(exc).__name__)
        return 1
    except NoArgsIsHelpError as exc:
        # Typer's rich help has been printed already; plain Click's is in the message.
        if exc.format_message():
            err_console.print(exc.format_message(), soft_wrap=False)
        return 2
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)  # usage errors carry the command's context
        command = ctx.command_path if ctx is not None else "crosspost"
        _error_line(f"{exc.format_message()} (see: {command} --help)")
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    # A command's typer.Exit(code) comes back as its code; a command returns None.
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _error_line(message: str) -> None:
    line = " ".join(message.split()) or "unknown error"
    err_console.print(Text("error: ", style="bold red") + Text(line))


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())

"""The console the CLI shares: progress bars on a terminal, the log handler and logging setup
(with -q/-v wherever users type them), the --speakers type, expected failures as one line
with their exit code, the failed files' report, and the lines
on stderr about inputs and explanations. The one module of pipelines/ that writes to the
terminal: the jobs themselves log and report progress through a callback, and never print.

Exit codes: 0 success; 1 some inputs failed (the rest were processed); 2 usage error,
unusable input, an output that cannot be written, a port in use, or training without the
'train' extra; 3 model missing, damaged or incompatible; 130 interrupted.
"""

from __future__ import annotations

import functools
import logging
import shlex
import sys
from pathlib import Path

import click

from ser_img.errors import NoModelError, SerImgError, TooFewSpeakersError, UsageError

EXIT_SOME_FAILED = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130
log = logging.getLogger("ser_img")
# What the command line adds to the library's errors: its own flags and commands.
HINTS = {NoModelError: "; pass --model DIR, or train one with 'ser-img train'",
         TooFewSpeakersError: "; give each clip its speaker with 'ser-img render --speaker-from folder' (or "
                              "--speaker-from speakers.csv, rows of path,speaker)"}


class Bars:
    """Progress bars on a terminal only, never with -q; log lines first erase a bar being drawn."""

    show = False
    drawing = False


def progress(items, total, label):
    """A `pipelines.Progress`: a bar on stderr when `Bars.show`, else the items as they are."""
    if not Bars.show:
        yield from items
        return
    with click.progressbar(items, length=total, label=label, file=sys.stderr) as bar:
        Bars.drawing = True
        try:
            yield from bar
        finally:
            Bars.drawing = False


class LogHandler(logging.StreamHandler):
    def emit(self, record):
        if Bars.drawing:
            self.stream.write("\r\x1b[2K")  # the bar redraws below the message at its next step
        super().emit(record)


def configure_logging(verbose: bool, quiet: bool) -> None:
    """Log lines (message only) on stderr at the level -v/-q ask for; bars on a terminal unless -q."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, LogHandler)]:
        root.removeHandler(old)  # an earlier main() in this process (tests) bound another stderr
    handler = LogHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    Bars.show = not quiet and sys.stderr.isatty()


def _set_verbosity(ctx, param, value):
    if value:  # -q or -v after the command name: the same as before it
        configure_logging(verbose=param.name == "verbose", quiet=param.name == "quiet")


def log_options(command):
    """-q and -v where users type them too: `ser-img predict a.wav -q` as `ser-img -q predict a.wav`."""
    command = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity,
                           help="Log only warnings and errors (as before the command).")(command)
    return click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_verbosity,
                        help="Log more detail (as before the command).")(command)


class _SpeakersType(click.ParamType):
    """auto, channels, or a number of speakers from 1 up: anything else is a usage error."""

    name = "auto|N|channels"

    def convert(self, value, param, ctx):
        from ser_img.conversation.speakers import parse_speakers

        try:
            return parse_speakers(value)
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


SPEAKERS = _SpeakersType()  # the type of --speakers


def errors_for_people(command):
    """Expected failures print one line and exit with their code; no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SerImgError as exc:
            hint = HINTS.get(type(exc), "")
            click.echo(f"error: {exc}{hint}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:  # the system refused an output (permission, disk full, not a folder)
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_UNUSABLE)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def report_failures(failures: list[tuple[str, str]]) -> None:
    if failures:
        click.echo(f"{len(failures)} file(s) failed:", err=True)
        for _, reason in failures:
            click.echo(f"  {reason}", err=True)


def finish(failures) -> None:
    """The failed files on stderr, then exit 1 when there were any, else 0."""
    report_failures(failures)
    sys.exit(EXIT_SOME_FAILED if failures else 0)


def warn_about_inputs(predictions) -> None:
    """One line per file on stderr when its input is outside what the model was measured on."""
    for p in predictions:
        if p.warnings:
            log.warning("%s: warning: %s", p.source, "; ".join(p.warnings))


def say_what_stands_out(predictions) -> None:
    """Each explanation in one sentence, so a picture of noise is not read as a finding."""
    from ser_img.report.explain import summary

    for p in predictions:
        if p.explanation is not None:
            log.info("%s: %s", p.source, summary(p.explanation, p.label))


def own_command() -> str:
    """How to type this program again: `ser-img` when that is on PATH, else the path it was run by
    (`.venv/bin/ser-img` after the README's command, where .venv/bin is not on PATH)."""
    import shutil

    typed = sys.argv[0] if sys.argv and Path(sys.argv[0]).name == "ser-img" else None
    if typed is None:
        return "ser-img"
    on_path = shutil.which("ser-img")
    same = on_path is not None and Path(on_path).resolve() == Path(typed).resolve()
    return "ser-img" if same else shlex.quote(typed)


def require_tensorflow() -> None:
    """Training needs the 'train' extra; say so in one line instead of an ImportError."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
        raise UsageError("training needs TensorFlow: pip install 'ser-img[train]'")

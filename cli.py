"""ser-img command line: parses arguments, calls a pipeline, prints its results.

Results go to stdout (tables, or JSON with --json); logs, progress and errors to stderr.
Exit codes: 0 success; 1 some inputs failed (the rest were processed); 2 usage error,
unusable input, an output that cannot be written, a port in use, or training without the
'train' extra; 3 model missing, damaged or incompatible; 130 interrupted.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import shlex
import sys
from pathlib import Path

import click

from ser_img import __version__
from ser_img.errors import NoModelError, SerImgError, TooFewSpeakersError
from ser_img.labels import EMOTIONS
from ser_img.members.registry import HEADS as _HEADS
from ser_img.ensemble.settings import TrainSettings

_TRAIN_DEFAULTS = TrainSettings()  # one source for training defaults: the options show its values
EXIT_SOME_FAILED = 1
EXIT_UNUSABLE = 2
log = logging.getLogger("ser_img")
# What the command line adds to the library's errors: its own flags and commands.
_HINTS = {NoModelError: "; pass --model DIR, or train one with 'ser-img train'",
          TooFewSpeakersError: "; give each clip its speaker with 'ser-img render --speaker-from folder' (or "
                               "--speaker-from speakers.csv, rows of path,speaker)"}


class _Bars:
    """Progress bars on a terminal only, never with -q; log lines first erase a bar being drawn."""

    show = False
    drawing = False


def _progress(items, total, label):
    if not _Bars.show:
        yield from items
        return
    with click.progressbar(items, length=total, label=label, file=sys.stderr) as bar:
        _Bars.drawing = True
        try:
            yield from bar
        finally:
            _Bars.drawing = False


class _LogHandler(logging.StreamHandler):
    def emit(self, record):
        if _Bars.drawing:
            self.stream.write("\r\x1b[2K")  # the bar redraws below the message at its next step
        super().emit(record)


def _errors_for_people(command):
    """Expected failures print one line and exit with their code; no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SerImgError as exc:
            hint = _HINTS.get(type(exc), "")
            click.echo(f"error: {exc}{hint}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:  # the system refused an output (permission, disk full, not a folder)
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_UNUSABLE)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _report_failures(failures: list[tuple[str, str]]) -> None:
    if failures:
        click.echo(f"{len(failures)} file(s) failed:", err=True)
        for _, reason in failures:
            click.echo(f"  {reason}", err=True)


def _finish(failures) -> None:
    _report_failures(failures)
    sys.exit(EXIT_SOME_FAILED if failures else 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ser-img")
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors.")
def main(verbose: bool, quiet: bool) -> None:
    """Speech emotion recognition from mel-spectrogram images (8 RAVDESS classes).

    \b
    Examples:
      ser-img predict talk.wav          # the shipped model, no training needed
      ser-img demo                      # see it work end to end
    """
    _configure_logging(verbose, quiet)


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LogHandler)]:
        root.removeHandler(old)  # an earlier main() in this process (tests) bound another stderr
    handler = _LogHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    _Bars.show = not quiet and sys.stderr.isatty()


def _set_verbosity(ctx, param, value):
    if value:  # -q or -v after the command name: the same as before it
        _configure_logging(verbose=param.name == "verbose", quiet=param.name == "quiet")


def _log_options(command):
    """-q and -v where users type them too: `ser-img predict a.wav -q` as `ser-img -q predict a.wav`."""
    command = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity,
                           help="Log only warnings and errors (as before the command).")(command)
    return click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_verbosity,
                        help="Log more detail (as before the command).")(command)


class _SpeakersType(click.ParamType):
    """auto, channels, or a number of speakers from 1 up: anything else is a usage error."""

    name = "auto|N|channels"

    def convert(self, value, param, ctx):
        from ser_img.errors import UsageError
        from ser_img.conversation.speakers import parse_speakers

        try:
            return parse_speakers(value)
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


SPEAKERS = _SpeakersType()

_scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Run on a Dask cluster: tcp://HOST:8786 (a running 'dask scheduler'), or local[:N] to start "
         "N worker processes here. Audio paths must be readable by every worker.")


MODEL_HELP = ("Model directory. Without it: the newest model under ./artifacts, else the RAVDESS model "
              "shipped in the package.")


class _NeedsTensorFlow(SerImgError):
    exit_code = EXIT_UNUSABLE


def _require_tensorflow() -> None:
    """Training needs the 'train' extra; say so in one line instead of an ImportError."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
        raise _NeedsTensorFlow("training needs TensorFlow: pip install 'ser-img[train]'")


@main.command(short_help="Render audio to spectrogram images for training.")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("data/images"),
              show_default=True, help="Folder for the PNG images, manifest.csv and render_settings.json.")
@click.option("--speaker-from", "speaker_from", default="name", show_default=True,
              metavar="name|folder|CSV",
              help="Who speaks in each file: corpus file names (name), the folder a file is in, skipping "
                   "an emotion-named one (folder), or a CSV of path,speaker rows.")
@click.option("--force", is_flag=True, help="Re-render images that are already up to date.")
@click.option("--workers", type=click.IntRange(1), default=None, show_default="all cores",
              help="Processes to use.")
@click.option("--size", type=click.IntRange(8, 1024), default=128, show_default=True,
              help="Image height and width in pixels.")
@click.option("--window", type=click.FloatRange(0.25, 60), default=3.0, show_default=True,
              help="Seconds of audio per image.")
@click.option("--functionals", type=click.Choice(["none", "ComParE_2016", "eGeMAPSv02"]), default="none",
              show_default=True, help="openSMILE functionals to compute beside the image (for the smile member; "
                                      "ComParE_2016 costs about 40 ms a clip).")
@click.option("--channel", type=click.Choice(["none", "telephone"]), default="none", show_default=True,
              help="Send every clip through a simulated channel first: telephone makes 8-kHz, 300-3400 Hz, "
                   "mu-law copies to train and measure on.")
@_scheduler_option
@_log_options
@_errors_for_people
def render(sources, out_dir, speaker_from, force, workers, size, window, functionals, channel, scheduler):
    """Render audio files, folders (searched recursively) or clip lists to spectrogram
    images and feature vectors.

    A clip list is a CSV with a header row: path (relative to the CSV), label and
    speaker columns, e.g. a corpus's labels.csv.

    \b
    Examples:
      ser-img render Audio_Speech_Actors_01-24 --out data/ravdess
      ser-img render my_data --speaker-from folder     # my_data/SPEAKER/angry/x.wav
      ser-img render corpora/nemo/labels.csv --out data/nemo
      ser-img render Audio_Speech_Actors_01-24 --out data/ravdess-tel --channel telephone
    """
    from pipelines.render import render_folder
    from ser_img.features.spectrogram import RenderSettings

    settings = RenderSettings(height=size, width=size, window_s=window,
                              functionals="" if functionals == "none" else functionals,
                              channel="" if channel == "none" else channel)
    if scheduler:
        from pipelines.cluster import render_on_cluster

        report = render_on_cluster(list(sources), out_dir, settings, scheduler, force=force, progress=_progress)
    else:
        report = render_folder(list(sources), out_dir, settings, force=force, workers=workers,
                               progress=_progress, speaker_from=speaker_from)
    click.echo(f"{report.rendered} rendered, {report.skipped} up to date, {len(report.failures)} failed "
               f"-> {out_dir}")
    _finish(report.failures)


@main.command(short_help="Train a model on rendered images, speaker-grouped.")
@click.option("--images", "images_dirs", type=click.Path(path_type=Path), multiple=True,
              default=[Path("data/images")], show_default=True,
              help="Folder written by 'ser-img render'; repeat it to train on several corpora (one folder each).")
@click.option("--head", type=click.Choice(list(_HEADS)), default="stack", show_default=True,
              help="What classifies: the stack of every member, or one member alone (cnn, the heads on its "
                   "embeddings, or a logistic regression on one feature block). Each needs 3 speakers or more.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              show_default="artifacts/HEAD-TIMESTAMP", help="Model directory.")
@click.option("--epochs", type=click.IntRange(1), default=_TRAIN_DEFAULTS.cnn.epochs, show_default=True,
              help="CNN epochs.")
@click.option("--folds", type=click.IntRange(2), default=_TRAIN_DEFAULTS.max_folds, show_default=True,
              help="Most speaker-grouped folds (fewer if fewer speakers).")
@click.option("--seed", type=int, default=_TRAIN_DEFAULTS.seed, show_default=True,
              help="Random seed: the same seed, the same model.")
@click.option("--members", default=",".join(_TRAIN_DEFAULTS.members), show_default=True,
              help=f"Members the stack trains, comma-separated, from {', '.join(_HEADS[:-1])}; those it gives "
                   "weight 0 are not saved.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@_log_options
@_errors_for_people
def train(images_dirs, head, out_dir, epochs, folds, seed, members, force, as_json):
    """Train the members and their stack with speaker-grouped out-of-fold stacking.

    Several --images folders are several corpora: folds stay grouped by speaker across
    all of them, each corpus is evidence only about the classes it has, and the figures
    are reported per corpus too.

    \b
    Examples:
      ser-img train --images data/ravdess --out artifacts/ravdess-stack
      ser-img train --images data/ravdess --images data/nemo --images data/emovo
      ser-img train --head xgb --epochs 10
    """
    _require_tensorflow()
    from pipelines.train import train as train_model

    chosen = tuple(name.strip() for name in members.split(",") if name.strip())
    report = train_model(list(images_dirs), head, out_dir,
                         _train_settings(epochs, seed=seed, max_folds=folds, members=chosen),
                         force=force, progress=_progress)
    if as_json:
        click.echo(json.dumps({"model": str(report.model_dir), **report.metrics}, indent=2))
    else:
        click.echo(_metrics_table(report.metrics))
        click.echo(f"model saved to {report.model_dir} ({report.seconds:.0f} s)")


def _train_settings(epochs: int | None, **changes):
    """The default TrainSettings with the CLI's changes (the options' defaults come from it)."""
    cnn = _TRAIN_DEFAULTS.cnn if epochs is None else dataclasses.replace(_TRAIN_DEFAULTS.cnn, epochs=epochs)
    return dataclasses.replace(_TRAIN_DEFAULTS, cnn=cnn, **changes)


def _metrics_table(scores: dict) -> str:
    """Pooled out-of-fold figures per member, then accuracy/UAR/macro-F1 per fold."""
    from ser_img.members.registry import MEMBER_ORDER

    members = [name for name in MEMBER_ORDER if name in scores["overall"]]
    lines = ["speaker-grouped cross-validation (pooled out-of-fold predictions)",
             f"{'model':<8}{'accuracy':>10}{'UAR':>8}{'macro-F1':>10}{'log-loss':>10}{'Brier':>8}{'ECE':>8}"]
    for name in members:
        o = scores["overall"][name]
        mark = " *" if name == scores["final"] else ""
        lines.append(f"{name + mark:<8}{o['accuracy']:>10.3f}{o['uar']:>8.3f}{o['macro_f1']:>10.3f}"
                     f"{o['log_loss']:>10.3f}{o['brier']:>8.3f}{o['ece']:>8.3f}")
    lines += ["* the model's output; log-loss, Brier and ECE (10 bins) say how far its probabilities "
              "can be trusted", "", "per fold, accuracy/UAR/macro-F1:",
              f"{'fold':<6}{'n':>5}  " + "".join(f"{name:<17}" for name in members).rstrip()]
    for fold in scores["folds"]:
        cells = "".join(f"{fold[n]['accuracy']:.2f}/{fold[n]['uar']:.2f}/{fold[n]['macro_f1']:.2f}".ljust(17)
                        for n in members)
        lines.append(f"{fold['fold']:<6}{fold[members[0]]['n']:>5}  {cells}".rstrip())
    if "corpora" in scores:
        lines += ["", "per corpus, accuracy (8-way):", f"{'corpus':<10}{'n':>6}  " + "".join(f"{n:<7}" for n in members)]
        for corpus, row in scores["corpora"].items():
            lines.append(f"{corpus:<10}{row[members[0]]['n']:>6}  " + "".join(f"{row[n]['accuracy']:<7.3f}" for n in members))
    return "\n".join(lines)


@main.command(short_help="Score a model on labelled audio.")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None, help=MODEL_HELP)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              show_default="artifacts/evaluations/MODEL--SOURCE",
              help="Where to write evaluation.json (figures and every clip's answer) and confusion.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@_log_options
@_errors_for_people
def evaluate(sources, model_dir, out_dir, as_json):
    """Score a model on labelled audio (RAVDESS/TESS/SAVEE/CREMA-D names or emotion folders).

    Prints accuracy, UAR, macro-F1, log-loss, Brier score and ECE (reliability.png beside
    evaluation.json). Clips from speakers the model was trained on get a CAUTION line and
    their figures apart from the other speakers'.

    \b
    Examples:
      ser-img evaluate path/to/Actor_19 path/to/Actor_20
      ser-img evaluate my_data --model artifacts/NAME --out report
    """
    from pipelines.evaluate import evaluate as evaluate_model

    result = evaluate_model(list(sources), model_dir, out_dir, progress=_progress)
    log.info("model: %s", result.model_name)
    if as_json:
        click.echo(json.dumps(result.report, indent=2))
    else:
        click.echo(_evaluation_table(result.report))
        click.echo(f"report: {result.out_dir}")
    _finish(result.failures)


def _overlap_lines(report: dict) -> list[str]:
    """The caveat for clips from the model's own training speakers, with the figures apart."""
    lines = []
    if report.get("not_judged"):
        lines.append(f"{len(report['not_judged'])} clip(s) not judged (too short or no speech): left out of the figures")
    if not report.get("n_training_speakers_clips"):
        return lines
    seen, others = report["on_training_speakers"], report["on_other_speakers"]
    speakers = report["training_speakers"]
    named = ", ".join(speakers[:6]) + (f" and {len(speakers) - 6} more" if len(speakers) > 6 else "")
    lines += [f"CAUTION: {report['n_training_speakers_clips']} of {report['n']} clips are from speakers the model "
              f"was trained on ({named}): not a test of new voices.",
              f"  those clips:        accuracy {seen['accuracy']:.3f}  UAR {seen['uar']:.3f}  (n={seen['n']})",
              f"  the other speakers: " + (f"accuracy {others['accuracy']:.3f}  UAR {others['uar']:.3f}  "
                                           f"(n={others['n']})" if others else "none: no figure for new voices")]
    return lines


def _evaluation_table(report: dict) -> str:
    lines = [f"{report['n']} clips   accuracy {report['accuracy']:.3f}   UAR {report['uar']:.3f}   "
             f"macro-F1 {report['macro_f1']:.3f}",
             f"calibration: log-loss {report['log_loss']:.3f}   Brier {report['brier']:.3f}   ECE {report['ece']:.3f}"
             " (reliability.png)", *_overlap_lines(report), "",
             f"{'class':<10}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>6}"]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<10}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}{row['support']:>6}")
    lines += ["", "confusion matrix (rows true, columns predicted):",
              " " * 10 + "".join(f"{name[:5]:>6}" for name in EMOTIONS)]
    for name, row in zip(EMOTIONS, report["confusion_matrix"]):
        lines.append(f"{name:<10}" + "".join(f"{count:>6}" for count in row))
    return "\n".join(lines)



@main.command(short_help="Predict the emotion of audio files or folders.")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None, help=MODEL_HELP)
@click.option("--window", "window_s", type=click.FloatRange(0.25, 60), default=None,
              show_default="the model's, 3 s for the shipped one",
              help="Seconds per segment of a long recording.")
@click.option("--hop", "hop_s", type=click.FloatRange(0.05, 60), default=None, show_default="half the window",
              help="Seconds between segment starts.")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per file, with its timeline.")
@click.option("--jsonl", "as_jsonl", is_flag=True,
              help="JSON Lines: the same records, one per line, printed as files finish (for big folders).")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV: per file a 'file' row (its overall answer, or its error), then a 'segment' row per "
                   "segment of a long recording: source, row, start, end, label, 8 probabilities, outcome "
                   "(emotion, too short, no speech, error), speech_s, warnings, error; with --speakers, a 'speaker' "
                   "row per speaker after the file row, and a last column naming each row's speaker.")
@click.option("--explain", is_flag=True,
              help="Show which time-frequency regions of the spectrogram drove each decision: a field of "
                   "the --json records, else PNGs written to --explain-dir.")
@click.option("--explain-dir", type=click.Path(path_type=Path), default=Path("explanations"), show_default=True,
              help="Where --explain writes its PNGs (without --json).")
@click.option("--workers", type=click.IntRange(1), default=None, show_default="all cores",
              help="Processes decoding short files.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Write a Parquet dataset (folder) instead of printing; a rerun scores only files without a row.")
@click.option("--speakers", type=SPEAKERS, default=None, metavar="auto|N|channels",
              help="Who felt what: find the speakers by voice (auto, or exactly N), or take a stereo "
                   "recording's two channels as two parties; every segment then names its speaker, and "
                   "each speaker gets an overall emotion and speaking time.")
@click.option("--segmenter", type=click.Choice(["silero", "energy"]), default="silero", show_default=True,
              help="What finds the speech in long recordings and conversations: the voice detector (music, "
                   "hum and noise are not speech) or a level gate (anything above -50 dBFS is).")
@_scheduler_option
@click.option("--files-per-task", type=click.IntRange(1), default=None,
              help="Files per batch on a worker and per Parquet part [64 with --scheduler, else 256].")
@_log_options
@_errors_for_people
def predict(sources, model_dir, window_s, hop_s, as_json, as_jsonl, as_csv, explain, explain_dir, workers, out,
            speakers, segmenter, scheduler, files_per_task):
    """Predict the emotion of audio files or folders (`-` reads audio from standard input).

    Recordings longer than twice the window are scored window by window, skipping
    windows where the voice detector finds too little speech: a timeline of segments, an
    overall label and the share of time per emotion. With --speakers, each speaker's turns
    are scored on their own, and every segment names its speaker.
    Results come in the order the files were given (a folder's files by name). Audio with
    less than half a second of speech gets no emotion but the outcome 'too short' (or
    'no speech'); input outside what the model was measured on (narrowband, clipped, very
    quiet, noisy) gets a warning line on stderr and in the record's 'warnings'.

    \b
    Examples:
      ser-img predict talk.wav
      ser-img predict recordings/ --json --explain > answers.json
      ser-img predict archive/ --jsonl > answers.jsonl
      curl -s https://host/talk.wav | ser-img predict -
      ser-img predict call.wav --speakers auto      # who felt what, and when
      ser-img predict call-stereo.wav --speakers channels
    """
    from pipelines.predict import predict_files, write_explanations

    if as_json + as_csv + as_jsonl > 1:
        raise click.UsageError("choose one of --json, --jsonl and --csv")
    if out is not None:
        if as_json or as_jsonl or as_csv or explain:
            raise click.UsageError("--out writes Parquet: leave out --json, --jsonl, --csv and --explain")
        return _predict_to_parquet(sources, out, model_dir, scheduler, window_s, hop_s, files_per_task, speakers,
                                   segmenter)
    if as_jsonl and not scheduler:
        return _predict_json_lines(sources, model_dir, window_s, hop_s, workers, explain, speakers, segmenter)
    if scheduler:
        if explain:
            raise click.UsageError("--explain runs on this machine: leave out --scheduler")
        from pipelines.cluster import FILES_PER_TASK, predict_on_cluster

        report = predict_on_cluster(list(sources), scheduler, model_dir, window_s=window_s, hop_s=hop_s,
                                    files_per_task=files_per_task or FILES_PER_TASK, progress=_progress,
                                    speakers=speakers, segmenter=segmenter)
    else:
        report = predict_files(list(sources), model_dir, window_s=window_s, hop_s=hop_s, workers=workers,
                               progress=_progress, explain=explain, speakers=speakers, segmenter=segmenter)
    log.info("model: %s", report.model_name)
    _warn_about_inputs(report.predictions)
    if as_json:
        click.echo(json.dumps(report.records(), indent=2))
    elif as_jsonl:
        for record in report.records():
            click.echo(json.dumps(record))
    elif as_csv:
        click.echo(_timeline_csv(report.answers, speakers is not None), nl=False)
    elif report.predictions:
        click.echo(_prediction_table(report.predictions))
        if explain:
            written = write_explanations(report.predictions, explain_dir)
            log.info("explanations: %d image(s) in %s", len(written), explain_dir)
            _say_what_stands_out(report.predictions)
    _finish(report.failures)


def _predict_to_parquet(sources, out, model_dir, scheduler, window_s, hop_s, files_per_task, speakers, segmenter):
    from pipelines.cluster import predict_to_parquet

    report = predict_to_parquet(list(sources), out, model_dir, scheduler, window_s=window_s, hop_s=hop_s,
                                files_per_task=files_per_task, progress=_progress, speakers=speakers,
                                segmenter=segmenter)
    from ser_img.recognizer import describe_model_dir

    log.info("model: %s", describe_model_dir(report.model_dir))
    click.echo(f"{report.scored} scored, {report.already_done} already in {out}, {len(report.failures)} failed "
               f"-> {out}")
    _finish(report.failures)


def _predict_json_lines(sources, model_dir, window_s, hop_s, workers, explain, speakers, segmenter):
    """One record per line, each file's printed as soon as its batch is done, in the order given."""
    from pipelines.predict import iter_answers, open_recognizer
    from ser_img.records import failure_record
    from ser_img.recognizer import describe_model_dir

    paths, recognizer = open_recognizer(list(sources), model_dir, window_s=window_s, hop_s=hop_s, workers=workers,
                                        speakers=speakers, segmenter=segmenter)
    log.info("model: %s", describe_model_dir(recognizer.model_dir))
    failures = []
    for source, answer in iter_answers(recognizer, paths, explain=explain):
        if isinstance(answer, str):
            failures.append((source, answer))
        else:
            _warn_about_inputs([answer])
        click.echo(json.dumps(failure_record(source, answer) if isinstance(answer, str) else answer.to_dict()))
        sys.stdout.flush()
    _finish(failures)


def _say_what_stands_out(predictions) -> None:
    """Each explanation in one sentence, so a picture of noise is not read as a finding."""
    from ser_img.report.explain import summary

    for p in predictions:
        if p.explanation is not None:
            log.info("%s: %s", p.source, summary(p.explanation, p.label))


def _warn_about_inputs(predictions) -> None:
    """One line per file on stderr when its input is outside what the model was measured on."""
    for p in predictions:
        if p.warnings:
            log.warning("%s: warning: %s", p.source, "; ".join(p.warnings))


def _outcome_text(p) -> str:
    """The emotion, or why there is none: 'too short (0.2 s of speech)', 'no speech'."""
    if p.label is not None:
        return p.label
    return f"{p.outcome} ({p.speech_s:.1f} s of speech)" if p.outcome == "too short" else p.outcome


def _timeline_csv(answers, with_speakers: bool = False) -> str:
    """A 'file' row per file in order (its overall answer, or its error), then, with speakers,
    a 'speaker' row per speaker (their overall answer), then its segments' rows; with speakers
    a last column names each row's speaker."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["source", "row", "start", "end", "label", *EMOTIONS, "outcome", "speech_s", "warnings",
                     "error", *(["speaker"] if with_speakers else [])])
    tail = [""] if with_speakers else []
    for source, p in answers:
        if isinstance(p, str):
            writer.writerow([source, "file", "", "", "", *[""] * len(EMOTIONS), "error", "", "", p, *tail])
            continue
        probabilities = [f"{x:.6f}" for x in p.probabilities] if p.judged else [""] * len(EMOTIONS)
        speech = "" if p.speech_s is None else f"{p.speech_s:.3f}"
        writer.writerow([p.source, "file", "0.000", f"{p.duration_s:.3f}", p.label or "", *probabilities,
                         p.outcome, speech, "; ".join(p.warnings), "", *tail])
        for who in (p.speakers or []) if with_speakers else []:
            writer.writerow([p.source, "speaker", "", "", who.label, *(f"{x:.6f}" for x in who.probabilities),
                             "emotion", f"{who.speech_s:.3f}", "", "", who.speaker])
        for s in p.timeline if p.is_timeline else []:
            writer.writerow([p.source, "segment", f"{s.start:.3f}", f"{s.end:.3f}", s.label,
                             *(f"{x:.6f}" for x in s.probabilities), "emotion", "", "", "",
                             *([s.speaker or ""] if with_speakers else [])])
    return out.getvalue()


def _prediction_table(predictions) -> str:
    lines = [f"{'file':<32}{'emotion':<11}" + "".join(f"{name[:7]:>8}" for name in EMOTIONS)]
    for p in predictions:
        name = Path(p.source).name
        name = name if len(name) <= 31 else "…" + name[-30:]
        if not p.judged:
            lines.append(f"{name:<32}{_outcome_text(p)}")
            continue
        lines.append(f"{name:<32}{p.label:<11}" + "".join(f"{x:>8.3f}" for x in p.probabilities))
        if p.is_timeline:
            shares = ", ".join(f"{e} {share:.0%}" for e, share in sorted(zip(EMOTIONS, p.shares), key=lambda x: -x[1])
                               if share > 0)
            lines.append(f"  {p.duration_s:.1f} s, {len(p.timeline)} segments, {p.silent_s:.1f} s silence "
                         f"skipped; time per emotion: {shares}")
            for who in p.speakers or []:
                lines.append(f"  {who.speaker:<8}{who.label:<11}" + "".join(f"{x:>8.3f}" for x in who.probabilities)
                             + f"  {who.speech_s:.1f} s ({who.share:.0%}), {who.turns} turn{'s' * (who.turns != 1)}")
            lines += [f"  {s.start:>9.2f}-{s.end:<9.2f}{(s.speaker or '') + ' ' if p.speakers is not None else ''}"
                      f"{s.label:<11}" + "".join(f"{x:>8.3f}" for x in s.probabilities) for s in p.timeline]
    return "\n".join(lines)


@main.command(short_help="Serve the HTTP API and the web page.")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None, help=MODEL_HELP)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 exposes the server to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--max-upload-mb", type=click.FloatRange(0.01), default=100.0, show_default=True,
              help="Largest upload accepted, in MiB.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1), default=120.0, show_default=True,
              help="Seconds a request may take before it is answered 504.")
@click.option("--workers", type=click.IntRange(1), default=4, show_default=True,
              help="Requests decoded and scored at once.")
@click.option("--max-duration", "max_duration_s", type=click.FloatRange(1), default=600.0, show_default=True,
              help="Longest audio accepted, in seconds; longer uploads (and ones with more channels x rate than "
                   "48-kHz stereo for that long) are refused (422) before they are decoded.")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="URL",
              help="A web page origin (https://app.example:8443) allowed to call the API from a browser; "
                   "repeat for more. Other pages' requests are refused (403).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another host name the server answers to (behind a proxy, say). By default it answers "
                   "to the address it listens on (and loopback names), so DNS rebinding cannot reach it.")
@_log_options
@_errors_for_people
def serve(model_dir, host, port, max_upload_mb, timeout_s, workers, max_duration_s, allow_origins, allow_hosts):
    """Serve the HTTP API and the web page (http://HOST:PORT/), model loaded once.

    \b
    Examples:
      ser-img serve                          # then open http://127.0.0.1:8000/
      curl -F file=@talk.wav 'http://127.0.0.1:8000/predict?explain=true'
    """
    from pipelines.serve import ServeSettings, allowed_hosts_for
    from pipelines.serve import serve as run_server

    settings = ServeSettings(max_upload_bytes=int(max_upload_mb * 1024 * 1024), timeout_s=timeout_s,
                             workers=workers, max_duration_s=max_duration_s, allowed_origins=allow_origins,
                             allowed_hosts=allowed_hosts_for(host, allow_hosts))
    run_server(model_dir, host, port, settings)


@main.command(short_help="The shipped model on real clips, then a synthetic run.")
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("data/demo"), show_default=True,
              help="Where the synthetic audio, images and evaluation go.")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              show_default="WORKDIR/model", help="Where the synthetic demo model goes (replaced if present).")
@click.option("--epochs", type=click.IntRange(1), default=_TRAIN_DEFAULTS.cnn.epochs, show_default=True,
              help="CNN epochs for the synthetic model.")
@_log_options
@_errors_for_people
def demo(workdir, model_dir, epochs):
    """The shipped model on real speech examples, then a SYNTHETIC corpus rendered,
    trained on, evaluated and predicted.

    \b
    Examples:
      ser-img demo
      ser-img demo --epochs 5 --workdir /tmp/demo      # the model goes to /tmp/demo/model
    """
    from pipelines.demo import run_examples

    examples = run_examples()
    click.echo(f"1. The shipped model, {examples.model_name}, on real speech.\n   Clips: {examples.attribution}\n")
    click.echo(_examples_table(examples.rows))
    click.echo(f"\n{examples.correct} of {len(examples.rows)} right; {examples.note}\n")
    _require_tensorflow()
    from pipelines.demo import run_demo

    model_dir = model_dir if model_dir is not None else workdir / "model"
    report = run_demo(workdir, model_dir, settings=_train_settings(epochs), progress=_progress)
    click.echo("2. A SYNTHETIC corpus, trained on here: these figures say nothing about real speech.\n")
    click.echo(_metrics_table(report.train.metrics))
    click.echo(f"\nheld-out synthetic speakers ({report.evaluation.out_dir}):")
    click.echo(_evaluation_table(report.evaluation.report))
    click.echo("\nsample predictions:")
    click.echo(_prediction_table(report.predictions.predictions))
    click.echo(f"\nmodel: {report.train.model_dir} (SYNTHETIC: for the synthetic clips only, not for real audio)")
    click.echo(f"try: {_own_command()} predict --model {shlex.quote(str(report.train.model_dir))} "
               f"{shlex.quote(str(workdir / 'audio' / 'heldout'))}")


def _own_command() -> str:
    """How to type this program again: `ser-img` when that is on PATH, else the path it was run by
    (`.venv/bin/ser-img` after the README's command, where .venv/bin is not on PATH)."""
    import shutil

    typed = sys.argv[0] if sys.argv and Path(sys.argv[0]).name == "ser-img" else None
    if typed is None:
        return "ser-img"
    on_path = shutil.which("ser-img")
    same = on_path is not None and Path(on_path).resolve() == Path(typed).resolve()
    return "ser-img" if same else shlex.quote(typed)


def _examples_table(rows) -> str:
    lines = [f"{'file':<28}{'truth':<11}{'predicted':<11}" + "".join(f"{name[:7]:>8}" for name in EMOTIONS)]
    for name, truth, recognition in rows:
        mark = "" if truth == recognition.label else " x"
        lines.append(f"{name:<28}{truth:<11}{recognition.label + mark:<11}"
                     + "".join(f"{p:>8.3f}" for p in recognition.probabilities))
    return "\n".join(lines)


if __name__ == "__main__":
    main()

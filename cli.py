"""ser-img command line: parses arguments, calls a pipeline, prints its results.

Results go to stdout (tables, or JSON with --json); logs, progress and errors to stderr, and
the exit codes that pipelines.console lists. Click commands only: the console, the tables and
the writers they print with are in pipelines/.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import click

from pipelines.console import (SPEAKERS, configure_logging, errors_for_people, finish, log_options, own_command,
                               progress, require_tensorflow, say_what_stands_out, warn_about_inputs)
from pipelines.tables import demo_text, evaluation_table, examples_text, metrics_table, prediction_table
from ser_img import __version__
from ser_img.ensemble.settings import TrainSettings
from ser_img.members.registry import HEADS as _HEADS

_TRAIN_DEFAULTS = TrainSettings()  # one source for training defaults: the options show its values
log = logging.getLogger("ser_img")


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
    configure_logging(verbose, quiet)


_scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Run on a Dask cluster: tcp://HOST:8786 (a running 'dask scheduler'), or local[:N] to start "
         "N worker processes here. Audio paths must be readable by every worker.")


MODEL_HELP = ("Model directory. Without it: the newest model under ./artifacts, else the RAVDESS model "
              "shipped in the package.")


@main.command(short_help="Render audio to spectrogram images for training.")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("data/images"),
              show_default=True, help="Folder for the PNG images, manifest.csv and render_settings.json.")
@click.option("--speaker-from", "speaker_from", default="name", show_default=True, metavar="name|folder|CSV",
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
@click.option("--channel", type=click.Choice(["none", "telephone", "mix"]), default="none", show_default=True,
              help="Send every clip through a simulated channel first, for copies to train and measure on: "
                   "telephone (8 kHz, 300-3400 Hz, mu-law), or mix: each clip under its own drawn condition "
                   "(gain, noise or babble at 0-30 dB SNR, telephone, codec, low-pass, room).")
@click.option("--copy", "copy", type=click.IntRange(1), default=1, show_default=True,
              help="With --channel mix: which copy (each number draws other conditions).")
@click.option("--babble", "babble_from", type=click.Path(exists=True, path_type=Path), multiple=True,
              help="With --channel mix: audio (folders, clip lists) whose talkers make the babble; repeatable.")
@_scheduler_option
@log_options
@errors_for_people
def render(sources, out_dir, speaker_from, force, workers, size, window, functionals, channel, copy, babble_from,
           scheduler):
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
      ser-img render Audio_Speech_Actors_01-24 --out data/ravdess-mix1 --channel mix --babble corpora/nemo
    """
    from pipelines.render import render_folder
    from ser_img.features.spectrogram import RenderSettings

    settings = RenderSettings(height=size, width=size, window_s=window,
                              functionals="" if functionals == "none" else functionals,
                              channel="" if channel == "none" else channel,
                              condition_seed=copy if channel == "mix" else 0)
    if scheduler:
        from pipelines.cluster import render_on_cluster

        report = render_on_cluster(list(sources), out_dir, settings, scheduler, force=force, progress=progress)
    else:
        report = render_folder(list(sources), out_dir, settings, force=force, workers=workers,
                               progress=progress, speaker_from=speaker_from, babble_from=babble_from)
    click.echo(f"{report.rendered} rendered, {report.skipped} up to date, {len(report.failures)} failed "
               f"-> {out_dir}")
    finish(report.failures)


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
@click.option("--keep-cnns", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A model trained on the same --images and --folds: keep its CNNs and heads on them, refit the "
                   "rest (minutes, not an hour: after a change only the others read, e.g. Whisper's precision).")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@log_options
@errors_for_people
def train(images_dirs, head, out_dir, epochs, folds, seed, members, keep_cnns, force, as_json):
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
    if not keep_cnns:  # the kept CNNs run in LiteRT
        require_tensorflow()
    from pipelines.train import train as train_model

    chosen = tuple(name.strip() for name in members.split(",") if name.strip())
    report = train_model(list(images_dirs), head, out_dir,
                         _train_settings(epochs, seed=seed, max_folds=folds, members=chosen),
                         force=force, progress=progress, keep_cnns=keep_cnns)
    if as_json:
        click.echo(json.dumps({"model": str(report.model_dir), **report.metrics}, indent=2))
    else:
        click.echo(metrics_table(report.metrics))
        click.echo(f"model saved to {report.model_dir} ({report.seconds:.0f} s)")


def _train_settings(epochs: int | None, **changes):
    """The default TrainSettings with the CLI's changes (the options' defaults come from it)."""
    cnn = _TRAIN_DEFAULTS.cnn if epochs is None else dataclasses.replace(_TRAIN_DEFAULTS.cnn, epochs=epochs)
    return dataclasses.replace(_TRAIN_DEFAULTS, cnn=cnn, **changes)


@main.command(short_help="Score a model on labelled audio.")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None, help=MODEL_HELP)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              show_default="artifacts/evaluations/MODEL--SOURCE",
              help="Where to write evaluation.json (figures and every clip's answer) and confusion.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@log_options
@errors_for_people
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

    result = evaluate_model(list(sources), model_dir, out_dir, progress=progress)
    log.info("model: %s", result.model_name)
    if as_json:
        click.echo(json.dumps(result.report, indent=2))
    else:
        click.echo(evaluation_table(result.report))
        click.echo(f"report: {result.out_dir}")
    finish(result.failures)


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
@log_options
@errors_for_people
def predict(sources, model_dir, window_s, hop_s, as_json, as_jsonl, as_csv, explain, explain_dir, workers, out,
            speakers, segmenter, scheduler, files_per_task):
    """Predict the emotion of audio files or folders (`-` reads audio from standard input).

    Recordings longer than twice the window are scored window by window, skipping
    windows where the voice detector finds too little speech: a timeline of segments, an
    overall label and the share of time per emotion. With --speakers, each speaker's turns
    are scored on their own, and every segment names its speaker.
    Results come in the order the files were given (a folder's files by name); a file
    named twice is answered once, with a warning. Audio with
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
    from pipelines.writers import json_lines, timeline_csv
    from ser_img.options import RecognizerOptions

    if as_json + as_csv + as_jsonl > 1:
        raise click.UsageError("choose one of --json, --jsonl and --csv")
    options = RecognizerOptions(window_s=window_s, hop_s=hop_s, segmenter=segmenter, speakers=speakers,
                                workers=workers)
    if out is not None:
        if as_json or as_jsonl or as_csv or explain:
            raise click.UsageError("--out writes Parquet: leave out --json, --jsonl, --csv and --explain")
        return _predict_to_parquet(sources, out, model_dir, scheduler, options, files_per_task)
    if as_jsonl and not scheduler:
        return _predict_json_lines(sources, model_dir, options, explain)
    if scheduler:
        if explain:
            raise click.UsageError("--explain runs on this machine: leave out --scheduler")
        from pipelines.cluster import FILES_PER_TASK, predict_on_cluster

        report = predict_on_cluster(list(sources), scheduler, model_dir, options,
                                    files_per_task=files_per_task or FILES_PER_TASK, progress=progress)
    else:
        report = predict_files(list(sources), model_dir, options=options, progress=progress, explain=explain)
    log.info("model: %s", report.model_name)
    warn_about_inputs(report.predictions)
    if as_json:
        click.echo(json.dumps(report.records(), indent=2))
    elif as_jsonl:
        json_lines(report.answers, click.echo)
    elif as_csv:
        click.echo(timeline_csv(report.answers, options.speakers is not None), nl=False)
    elif report.predictions:
        click.echo(prediction_table(report.predictions))
        if explain:
            written = write_explanations(report.predictions, explain_dir)
            log.info("explanations: %d image(s) in %s", len(written), explain_dir)
            say_what_stands_out(report.predictions)
    finish(report.failures)


def _predict_to_parquet(sources, out, model_dir, scheduler, options, files_per_task):
    from pipelines.cluster import predict_to_parquet
    from ser_img.recognizer import describe_model_dir

    report = predict_to_parquet(list(sources), out, model_dir, scheduler, options, files_per_task, progress)
    log.info("model: %s", describe_model_dir(report.model_dir))
    click.echo(f"{report.scored} scored, {report.already_done} already in {out}, {len(report.failures)} failed "
               f"-> {out}")
    finish(report.failures)


def _predict_json_lines(sources, model_dir, options, explain):
    """One record per line, each file's printed as soon as its batch is done, in the order given."""
    from pipelines.predict import iter_answers, open_recognizer
    from pipelines.writers import json_lines
    from ser_img.recognizer import describe_model_dir

    paths, recognizer = open_recognizer(list(sources), model_dir, options=options)
    log.info("model: %s", describe_model_dir(recognizer.model_dir))
    finish(json_lines(iter_answers(recognizer, paths, explain=explain), click.echo, lambda p: warn_about_inputs([p])))


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
@click.option("--max-duration", "max_duration", type=click.FloatRange(1), default=600.0, show_default=True,
              help="Longest audio accepted, in seconds; longer uploads (and ones with more channels x rate than "
                   "48-kHz stereo for that long) are refused (422) before they are decoded.")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="URL",
              help="A web page origin (https://app.example:8443) allowed to call the API from a browser; "
                   "repeat for more. Other pages' requests are refused (403).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another host name the server answers to (behind a proxy, say). By default it answers "
                   "to the address it listens on (and loopback names), so DNS rebinding cannot reach it.")
@log_options
@errors_for_people
def serve(model_dir, host, port, max_upload_mb, timeout_s, workers, max_duration, allow_origins, allow_hosts):
    """Serve the HTTP API and the web page (http://HOST:PORT/), model loaded once.

    \b
    Examples:
      ser-img serve                          # then open http://127.0.0.1:8000/
      curl -F file=@talk.wav 'http://127.0.0.1:8000/predict?explain=true'
    """
    from pipelines.serve import ServeSettings, allowed_hosts_for
    from pipelines.serve import serve as run_server

    settings = ServeSettings(max_upload_bytes=int(max_upload_mb * 1024 * 1024), timeout_s=timeout_s,
                             workers=workers, max_duration_s=max_duration, allowed_origins=allow_origins,
                             allowed_hosts=allowed_hosts_for(host, allow_hosts))
    run_server(model_dir, host, port, settings)


@main.command(short_help="The shipped model on real clips, then a synthetic run.")
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("data/demo"), show_default=True,
              help="Where the synthetic audio, images and evaluation go.")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              show_default="WORKDIR/model", help="Where the synthetic demo model goes (replaced if present).")
@click.option("--epochs", type=click.IntRange(1), default=_TRAIN_DEFAULTS.cnn.epochs, show_default=True,
              help="CNN epochs for the synthetic model.")
@log_options
@errors_for_people
def demo(workdir, model_dir, epochs):
    """The shipped model on real speech examples, then a SYNTHETIC corpus rendered,
    trained on, evaluated and predicted.

    \b
    Examples:
      ser-img demo
      ser-img demo --epochs 5 --workdir /tmp/demo      # the model goes to /tmp/demo/model
    """
    from pipelines.demo import run_examples

    click.echo(examples_text(run_examples()))
    require_tensorflow()
    from pipelines.demo import run_demo

    model_dir = model_dir if model_dir is not None else workdir / "model"
    report = run_demo(workdir, model_dir, settings=_train_settings(epochs), progress=progress)
    click.echo(demo_text(report, workdir, own_command()))


if __name__ == "__main__":
    main()

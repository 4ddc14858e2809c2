"""ser-img command line: parses arguments, calls a pipeline, prints its results.

Results go to stdout (tables, or JSON with --json); logs, progress and errors to stderr.
Exit codes: 0 success; 1 some inputs failed (the rest were processed); 2 usage error,
unusable input or an output that cannot be written; 3 model missing, damaged or
incompatible; 130 interrupted.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import sys
from pathlib import Path

import click

from ser_img import __version__
from ser_img.errors import SerImgError
from ser_img.labels import EMOTIONS
from ser_img.settings import TrainSettings

_TRAIN_DEFAULTS = TrainSettings()  # one source for training defaults: the options show its values
EXIT_SOME_FAILED = 1
EXIT_UNUSABLE = 2


def _progress(items, total, label):
    with click.progressbar(items, length=total, label=label, file=sys.stderr) as bar:
        yield from bar


def _errors_for_people(command):
    """Expected failures print one line and exit with their code; no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SerImgError as exc:
            click.echo(f"error: {exc}", err=True)
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
    """Speech emotion recognition from mel-spectrogram images (8 RAVDESS classes)."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)


_scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Run on a Dask cluster: tcp://HOST:8786 (a running 'dask scheduler'), or local[:N] to start "
         "N worker processes here. Audio paths must be readable by every worker.")


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("data/images"),
              show_default=True, help="Folder for the PNG images, manifest.csv and render_settings.json.")
@click.option("--force", is_flag=True, help="Re-render images that are already up to date.")
@click.option("--workers", type=click.IntRange(1), default=None, help="Processes to use [default: all cores].")
@click.option("--size", type=click.IntRange(8, 1024), default=None, help="Image height and width in pixels [128].")
@click.option("--window", type=click.FloatRange(0.25, 60), default=None, help="Seconds of audio per image [3.0].")
@_scheduler_option
@_errors_for_people
def render(sources, out_dir, force, workers, size, window, scheduler):
    """Render audio files or folders (searched recursively) to spectrogram images."""
    from pipelines.render import render_folder
    from ser_img.spectrogram import RenderSettings

    changes = {k: v for k, v in {"height": size, "width": size, "window_s": window}.items() if v is not None}
    if scheduler:
        from pipelines.cluster import render_on_cluster

        report = render_on_cluster(list(sources), out_dir, RenderSettings(**changes), scheduler, force=force,
                                   progress=_progress)
    else:
        report = render_folder(list(sources), out_dir, RenderSettings(**changes), force=force, workers=workers,
                               progress=_progress)
    click.echo(f"{report.rendered} rendered, {report.skipped} up to date, {len(report.failures)} failed "
               f"-> {out_dir}")
    _finish(report.failures)


@main.command()
@click.option("--images", "images_dir", type=click.Path(path_type=Path), default=Path("data/images"),
              show_default=True, help="Folder written by 'ser-img render'.")
@click.option("--head", type=click.Choice(["cnn", "mlp", "xgb", "lgbm", "stack"]), default="stack",
              show_default=True, help="Classifier on the CNN embeddings; 'stack' combines them all.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Model directory [default: artifacts/HEAD-TIMESTAMP].")
@click.option("--epochs", type=click.IntRange(1), default=_TRAIN_DEFAULTS.cnn.epochs, show_default=True,
              help="CNN epochs.")
@click.option("--folds", type=click.IntRange(2), default=_TRAIN_DEFAULTS.max_folds, show_default=True,
              help="Most speaker-grouped folds (fewer if fewer speakers).")
@click.option("--seed", type=int, default=_TRAIN_DEFAULTS.seed, show_default=True, help="Seed of every random choice.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@_errors_for_people
def train(images_dir, head, out_dir, epochs, folds, seed, force, as_json):
    """Train the CNN and a head with speaker-grouped out-of-fold stacking."""
    from pipelines.train import train as train_model

    report = train_model(images_dir, head, out_dir, _train_settings(epochs, seed=seed, max_folds=folds),
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
    from ser_img.model import MEMBERS

    members = [name for name in MEMBERS if name in scores["overall"]]
    lines = ["speaker-grouped cross-validation (pooled out-of-fold predictions)",
             f"{'model':<8}{'accuracy':>10}{'UAR':>8}{'macro-F1':>10}"]
    for name in members:
        overall = scores["overall"][name]
        mark = " *" if name == scores["final"] else ""
        lines.append(f"{name + mark:<8}{overall['accuracy']:>10.3f}{overall['uar']:>8.3f}{overall['macro_f1']:>10.3f}")
    lines += ["* the model's output", "", "per fold, accuracy/UAR/macro-F1:",
              f"{'fold':<6}{'n':>5}  " + "".join(f"{name:<17}" for name in members).rstrip()]
    for fold in scores["folds"]:
        cells = "".join(f"{fold[n]['accuracy']:.2f}/{fold[n]['uar']:.2f}/{fold[n]['macro_f1']:.2f}".ljust(17)
                        for n in members)
        lines.append(f"{fold['fold']:<6}{fold[members[0]]['n']:>5}  {cells}".rstrip())
    return "\n".join(lines)


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              help="Model directory [default: newest under ./artifacts].")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where to write evaluation.json and confusion.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@_errors_for_people
def evaluate(sources, model_dir, out_dir, as_json):
    """Score a model on labelled audio (RAVDESS/TESS/SAVEE/CREMA-D names or emotion folders)."""
    from pipelines.evaluate import evaluate as evaluate_model

    result = evaluate_model(list(sources), model_dir, out_dir, progress=_progress)
    click.echo(f"model: {result.model_dir}", err=True)
    if as_json:
        click.echo(json.dumps(result.report, indent=2))
    else:
        click.echo(_evaluation_table(result.report))
        click.echo(f"report: {result.out_dir}")
    _finish(result.failures)


def _evaluation_table(report: dict) -> str:
    lines = [f"{report['n']} clips   accuracy {report['accuracy']:.3f}   UAR {report['uar']:.3f}   "
             f"macro-F1 {report['macro_f1']:.3f}", "",
             f"{'class':<10}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>6}"]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<10}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}{row['support']:>6}")
    lines += ["", "confusion matrix (rows true, columns predicted):",
              " " * 10 + "".join(f"{name[:5]:>6}" for name in EMOTIONS)]
    for name, row in zip(EMOTIONS, report["confusion_matrix"]):
        lines.append(f"{name:<10}" + "".join(f"{count:>6}" for count in row))
    return "\n".join(lines)


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              help="Model directory [default: newest under ./artifacts].")
@click.option("--window", "window_s", type=click.FloatRange(0.25, 60), default=None,
              help="Seconds per segment of a long recording [the model's window].")
@click.option("--hop", "hop_s", type=click.FloatRange(0.05, 60), default=None,
              help="Seconds between segment starts [half the window].")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per file, with its timeline.")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV, one row per segment: path, start, end, label, 8 probabilities.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Write a Parquet dataset (folder) instead of printing; a rerun scores only files without a row.")
@_scheduler_option
@click.option("--files-per-task", type=click.IntRange(1), default=None,
              help="Files per batch on a worker and per Parquet part [64 with --scheduler, else 256].")
@_errors_for_people
def predict(sources, model_dir, window_s, hop_s, as_json, as_csv, out, scheduler, files_per_task):
    """Predict the emotion of audio files or folders.

    Recordings longer than twice the window are scored window by window, skipping
    silence: a timeline of segments, an overall label and the share of time per emotion.
    """
    from pipelines.predict import predict_files

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if out is not None:
        if as_json or as_csv:
            raise click.UsageError("--out writes Parquet: leave out --json and --csv")
        return _predict_to_parquet(sources, out, model_dir, scheduler, window_s, hop_s, files_per_task)
    if scheduler:
        from pipelines.cluster import FILES_PER_TASK, predict_on_cluster

        report = predict_on_cluster(list(sources), scheduler, model_dir, window_s=window_s, hop_s=hop_s,
                                    files_per_task=files_per_task or FILES_PER_TASK, progress=_progress)
    else:
        report = predict_files(list(sources), model_dir, window_s=window_s, hop_s=hop_s, progress=_progress)
    click.echo(f"model: {report.model_dir}", err=True)
    if as_json:
        records = [{"path": p.source, **{k: v for k, v in p.to_dict().items() if k != "source"}}
                   for p in report.predictions]
        records += [{"path": source, "label": None, "error": error} for source, error in report.failures]
        click.echo(json.dumps(records, indent=2))
    elif as_csv:
        click.echo(_timeline_csv(report.predictions), nl=False)
    else:
        click.echo(_prediction_table(report.predictions))
    _finish(report.failures)


def _predict_to_parquet(sources, out, model_dir, scheduler, window_s, hop_s, files_per_task):
    from pipelines.cluster import predict_to_parquet

    report = predict_to_parquet(list(sources), out, model_dir, scheduler, window_s=window_s, hop_s=hop_s,
                                files_per_task=files_per_task, progress=_progress)
    click.echo(f"model: {report.model_dir}", err=True)
    click.echo(f"{report.scored} scored, {report.already_done} already in {out}, {len(report.failures)} failed "
               f"-> {out}")
    _finish(report.failures)


def _timeline_csv(predictions) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "start", "end", "label", *EMOTIONS])
    for p in predictions:
        for s in p.timeline:
            writer.writerow([p.source, f"{s.start:.3f}", f"{s.end:.3f}", s.label,
                             *(f"{s.probabilities[e]:.6f}" for e in EMOTIONS)])
    return out.getvalue()


def _prediction_table(predictions) -> str:
    lines = [f"{'file':<32}{'emotion':<11}" + "".join(f"{name[:7]:>8}" for name in EMOTIONS)]
    for p in predictions:
        name = Path(p.source).name
        name = name if len(name) <= 31 else "…" + name[-30:]
        lines.append(f"{name:<32}{p.label:<11}" + "".join(f"{p.probabilities[e]:>8.3f}" for e in EMOTIONS))
        if p.is_timeline:
            shares = ", ".join(f"{e} {share:.0%}" for e, share in sorted(p.shares.items(), key=lambda x: -x[1])
                               if share > 0)
            lines.append(f"  {p.duration_s:.1f} s, {len(p.timeline)} segments, {p.silent_s:.1f} s silence "
                         f"skipped; time per emotion: {shares}")
            lines += [f"  {s.start:>9.2f}-{s.end:<9.2f}{s.label:<11}" +
                      "".join(f"{s.probabilities[e]:>8.3f}" for e in EMOTIONS) for s in p.timeline]
    return "\n".join(lines)


@main.command()
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              help="Model directory [default: newest under ./artifacts].")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 exposes the server to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--max-upload-mb", type=click.FloatRange(0.01), default=100.0, show_default=True,
              help="Largest upload accepted.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1), default=120.0, show_default=True,
              help="Seconds a request may take before it is answered 504.")
@click.option("--workers", type=click.IntRange(1), default=4, show_default=True,
              help="Requests decoded and scored at once.")
@_errors_for_people
def serve(model_dir, host, port, max_upload_mb, timeout_s, workers):
    """Serve the HTTP API and the web page (http://HOST:PORT/), model loaded once."""
    from pipelines.serve import ServeSettings
    from pipelines.serve import serve as run_server

    settings = ServeSettings(max_upload_bytes=int(max_upload_mb * 1024 * 1024), timeout_s=timeout_s,
                             workers=workers)
    run_server(model_dir, host, port, settings)


@main.command()
@click.option("--workdir", type=click.Path(path_type=Path), default=Path("data/demo"), show_default=True,
              help="Where the synthetic audio, images and evaluation go.")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=Path("data/demo/model"),
              show_default=True, help="Where the demo model goes (replaced if present).")
@click.option("--epochs", type=click.IntRange(1), default=_TRAIN_DEFAULTS.cnn.epochs, show_default=True,
              help="CNN epochs.")
@_errors_for_people
def demo(workdir, model_dir, epochs):
    """Run everything on a small SYNTHETIC corpus: render, train, evaluate, predict."""
    from pipelines.demo import run_demo

    report = run_demo(workdir, model_dir, settings=_train_settings(epochs), progress=_progress)
    click.echo("SYNTHETIC demo corpus: these figures say nothing about real speech.\n")
    click.echo(_metrics_table(report.train.metrics))
    click.echo(f"\nheld-out synthetic speakers ({report.evaluation.out_dir}):")
    click.echo(_evaluation_table(report.evaluation.report))
    click.echo("\nsample predictions:")
    click.echo(_prediction_table(report.predictions.predictions))
    click.echo(f"\nmodel: {report.train.model_dir}  -  try: ser-img predict --model {report.train.model_dir} "
               f"{workdir}/audio/heldout")


if __name__ == "__main__":
    main()

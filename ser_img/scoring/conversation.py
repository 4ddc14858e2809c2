"""Who felt what, and when: a recording's speech found, split by channel or by voice, joined into
turns, and each turn scored whole (or in windows when it is long). The audio is read three
times (speech, voices, emotions), never held whole."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ser_img.audio.stream import batched, cut
from ser_img.conversation.speakers import CHANNEL_NAMES, channels_error, diarize
from ser_img.conversation.speakers import pieces as speech_pieces
from ser_img.conversation.speakers import turns as speaker_turns
from ser_img.records import Recognition
from ser_img.features.extractors import render_inputs_batch
from ser_img.runtime.parallel import worker_pool
from ser_img.scoring.batcher import WINDOW_BATCH
from ser_img.scoring.progress import Advance, part, stopping
from ser_img.scoring.timeline import Tally
from ser_img.source import Source
from ser_img.speech.segmenter import SpeechMask
from ser_img.speech.windows import window_spans

IN_FLIGHT = 4  # batches of a conversation's windows rendered at once over the workers
PARALLEL_FROM_S = 120.0  # conversations at least this long are rendered on every core


@dataclass
class _Clip:
    """A window of a conversation's turn, ready to score."""

    start: int
    end: int
    samples: np.ndarray
    speaker: int
    weight: float  # seconds of the timeline it stands for


def score_conversation(recognizer, source: Source, image: bool, explain: bool,
                       advance: Advance | None) -> Recognition:
    """`recognizer`'s answer for `source` with its speakers told apart as its options say
    ("auto", a number, or "channels"; see the module's docstring)."""
    options, rate = recognizer.options, recognizer.sample_rate
    speakers = options.speakers
    channels = source.channels or 1
    if speakers == "channels" and channels != 2:
        raise channels_error(source.name or "audio array", channels)
    duration_s = source.measured_duration(rate)

    def open_blocks(channel):
        return source.blocks(rate, channel=channel)

    by_channel = speakers == "channels"
    with worker_pool(1 if duration_s < PARALLEL_FROM_S else options.workers) as mapper:
        if by_channel:
            names, masks, turns = _channels(recognizer, open_blocks, advance)
        else:
            names, masks, turns = _voices(recognizer, open_blocks, mapper, advance)
        tally = Tally(rate, image or explain)
        stage = part(advance, 0.5 / (2 if by_channel else 1))
        for channel in (range(2) if by_channel else [None]):
            windows = [(w, t.speaker) for t in turns if channel is None or t.speaker == channel
                       for w in _turn_windows(recognizer, t, masks[t.speaker])]
            clips = cut(stopping(open_blocks(channel), stage, rate), [w[:2] for w, _ in windows])
            for group in batched(zip(windows, clips), WINDOW_BATCH * IN_FLIGHT):
                found = [_Clip(start, end, samples, speaker, weight)
                         for ((start, end, weight), speaker), samples in group]
                batches = [found[i : i + WINDOW_BATCH] for i in range(0, len(found), WINDOW_BATCH)]
                rendered = mapper(_render_batch, [([c.samples for c in b], recognizer.settings) for b in batches])
                for clips_part, prepared in zip(batches, rendered):
                    tally.add(clips_part, list(zip(recognizer.score(prepared), prepared)),
                              [c.weight for c in clips_part], [c.speaker for c in clips_part])
    tally.sort()
    speech = sum(m.seconds() for m in (masks if by_channel else masks[:1]))
    return recognizer.timeline_answer(tally, speech, duration_s, duration_s, source.name, image, explain, names)


def _render_batch(job: tuple) -> list[tuple]:
    """Model inputs of a batch of signals, in a worker process."""
    signals, settings = job
    return render_inputs_batch(signals, settings)


def _channels(recognizer, open_blocks, advance) -> tuple:
    """Names, speech masks and turns of a two-party recording, one party per channel."""
    masks = [find_speech(recognizer, open_blocks(k), part(advance, 0.3 / 2)) for k in range(2)]
    spans = [mask.spans() for mask in masks]
    turns = sorted((t for k, found in enumerate(spans) for t in
                    speaker_turns(found, np.full(len(found), k), recognizer.sample_rate)),
                   key=lambda t: (t.start, t.speaker))
    return list(CHANNEL_NAMES), masks, turns


def _voices(recognizer, open_blocks, mapper, advance) -> tuple:
    """Speaker names, speech masks (one per speaker) and turns of a mixed recording."""
    rate, speakers = recognizer.sample_rate, recognizer.options.speakers
    mask = find_speech(recognizer, open_blocks(None), part(advance, 0.2))
    spans = speech_pieces(mask.spans(), rate)
    clips = cut(stopping(open_blocks(None), part(advance, 0.3), rate), spans)
    found = diarize(spans, clips, rate, None if speakers == "auto" else int(speakers), mapper)
    turns = speaker_turns(spans, found, rate)
    names = [f"S{k + 1}" for k in range(max((t.speaker for t in turns), default=-1) + 1)]
    return names, [mask] * len(names), turns


def find_speech(recognizer, blocks, advance) -> SpeechMask:
    """Where `recognizer`'s segmenter finds speech in a stream, read through once."""
    mask = recognizer.segmenter.new_mask(recognizer.sample_rate)
    for _ in recognizer.segmenter.follow(stopping(blocks, advance, recognizer.sample_rate), mask):
        pass
    return mask


def _turn_windows(recognizer, turn, mask: SpeechMask) -> list[tuple[int, int, float]]:
    """(start, end, seconds it stands for) of the windows a turn is scored in: the whole turn
    when it is not long (`recognizer.is_long`), else the windowing rule (ser_img.speech.windows);
    windows with too little speech to judge are left out."""
    rate = recognizer.sample_rate
    window, hop = recognizer.window_samples()
    if not recognizer.is_long((turn.end - turn.start) / rate):
        spans = [(turn.start, turn.end, (turn.end - turn.start) / rate)]
    else:
        spans = [(s, e, min(hop, e - s) / rate) for s, e in window_spans(turn.start, turn.end, window, hop, hop)]
    return [s for s in spans if mask.seconds(s[0], s[1]) >= recognizer.options.min_speech_s]

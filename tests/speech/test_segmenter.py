"""Speech masks and the segmenters' rules (ser_img.speech.segmenter); the voice detector's
own behaviour is tests/test_vad.py's."""

from __future__ import annotations

import numpy as np
import pytest

from ser_img.errors import UsageError
from ser_img.speech.segmenter import (
    VAD_OFF,
    VAD_ON,
    EnergySegmenter,
    SileroSegmenter,
    SpeechMask,
    hysteresis,
    speech_spans,
)
from tests.sounds import tone

RATE = 16000


def _mask(flags, frame=100, rate=1000):
    mask = SpeechMask(frame, rate)
    for part in np.array_split(np.asarray(flags, bool), 3):
        mask.add(part)
    return mask


def test_short_pauses_do_not_split_speech_and_padding_stays_inside_the_stream():
    mask = _mask([1, 1, 0, 1, 0, 0, 0, 1])  # 100-sample frames, 0.1 s each at 1 kHz
    assert mask.spans(min_pause_s=0.15).tolist() == [[0, 400], [700, 800]]
    assert mask.spans(min_pause_s=0.05).tolist() == [[0, 200], [300, 400], [700, 800]]
    assert mask.spans(min_pause_s=0.15, pad_s=0.05).tolist() == [[0, 450], [650, 850]]
    assert _mask([0, 0, 0]).spans().shape == (0, 2)


def test_speech_seconds_between_offsets():
    mask = _mask([1, 1, 0, 1, 0, 0, 0, 1])
    assert mask.seconds() == pytest.approx(0.4)
    assert mask.seconds(150, 350) == pytest.approx(0.2)  # frames 1 to 3, partly covered count whole


def test_hysteresis_switches_on_high_and_off_low_and_carries_its_state():
    between = (VAD_ON + VAD_OFF) / 2
    flags, speaking = hysteresis(np.array([between, VAD_ON, between, VAD_OFF - 0.01, between]), False)
    assert flags.tolist() == [False, True, True, False, False] and not speaking
    flags, speaking = hysteresis(np.array([between]), True)
    assert flags.tolist() == [True] and speaking


@pytest.mark.parametrize("block", [333, 4000, 48000])
def test_the_energy_gate_finds_the_loud_part_whatever_the_blocks(block):
    audio = np.concatenate([np.zeros(RATE, np.float32), tone(1.0, RATE), np.zeros(RATE, np.float32)])
    blocks = [audio[i : i + block] for i in range(0, len(audio), block)]
    (span,) = speech_spans(EnergySegmenter(), blocks, RATE)
    assert abs(span[0] - RATE) <= 256 and abs(span[1] - 2 * RATE) <= 256


def test_the_energy_gates_threshold_is_a_parameter():
    quiet = tone(1.0, RATE, amplitude=0.001)  # about -63 dBFS
    assert len(speech_spans(EnergySegmenter(), [quiet], RATE)) == 0
    assert len(speech_spans(EnergySegmenter(silence_db=-70), [quiet], RATE)) == 1


def test_the_voice_detector_needs_16_khz():
    with pytest.raises(UsageError, match="16000-Hz"):
        SileroSegmenter().new_mask(8000)

"""The voice detector (Silero VAD in NumPy) and the segmenters built on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_img.speech import vad
from ser_img.errors import UsageError
from ser_img.speech.segmenter import EnergySegmenter, SileroSegmenter, get_segmenter, speech_spans
from ser_img.features.spectrogram import RenderSettings, trim_silence
from ser_img.corpus.synth import synth_clip

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "silero_vad_reference.npz"
RATE = 16000


def test_port_gives_the_packages_probabilities():
    """What silero-vad's own ONNX model gives through onnxruntime (tests/data/README.md)."""
    with np.load(REFERENCE) as data:
        samples, expected = data["input"], data["probabilities"]
    got = vad.speech_probabilities(samples)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4


def test_blocks_of_any_size_give_what_the_whole_gives():
    with np.load(REFERENCE) as data:
        samples = data["input"]
    state, parts = vad.VadState(), []
    for start in range(0, len(samples), 7001):  # not a multiple of the 512-sample chunk
        parts.append(vad.speech_probabilities(samples[start : start + 7001], state,
                                              final=start + 7001 >= len(samples)))
    np.testing.assert_allclose(np.concatenate(parts), vad.speech_probabilities(samples), atol=1e-6)


def _speech_hum_noise() -> tuple[np.ndarray, tuple[float, float]]:
    """Synthetic speech, 3 s of loud 100-Hz hum, 3 s of white noise, speech: (audio, hum+noise span s)."""
    rng = np.random.default_rng(0)
    speech = synth_clip("angry", 2, 1, 1, rng, RATE)
    t = np.arange(3 * RATE) / RATE
    hum = (0.3 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    noise = (0.05 * rng.standard_normal(3 * RATE)).astype(np.float32)
    start = len(speech) / RATE
    return np.concatenate([speech, hum, noise, speech]), (start, start + 6.0)


def _seconds_inside(spans: np.ndarray, span: tuple[float, float]) -> float:
    starts, ends = np.maximum(spans[:, 0] / RATE, span[0]), np.minimum(spans[:, 1] / RATE, span[1])
    return float(np.clip(ends - starts, 0, None).sum())


def test_voice_detector_passes_over_hum_and_noise_that_the_energy_gate_takes_for_speech():
    audio, not_speech = _speech_hum_noise()
    silero = speech_spans(SileroSegmenter(), [audio], RATE)
    energy = speech_spans(EnergySegmenter(), [audio], RATE)
    assert _seconds_inside(silero, not_speech) < 0.5
    assert _seconds_inside(energy, not_speech) > 5.0
    speech_found = float(np.sum(silero[:, 1] - silero[:, 0])) / RATE
    assert speech_found > 2.0  # both utterances found


def test_segmenters_are_chosen_by_name():
    assert get_segmenter("silero").name == "silero"
    assert get_segmenter("energy").name == "energy"
    with pytest.raises(UsageError, match="unknown segmenter 'webrtc'"):
        get_segmenter("webrtc")
    with pytest.raises(UsageError, match="unknown segmenter"):
        RenderSettings(segmenter="webrtc")


def test_rendering_trims_with_the_settings_segmenter():
    audio, _ = _speech_hum_noise()
    clip = np.concatenate([np.zeros(RATE, np.float32), audio[: len(audio) - 7 * RATE]])  # silence, speech, hum
    by_energy = trim_silence(clip, RenderSettings())
    by_voice = trim_silence(clip, RenderSettings(segmenter="silero"))
    assert len(by_voice) < len(by_energy)  # the hum after the speech is cut by the voice detector only
    assert len(by_energy) < len(clip)  # the leading silence is cut by both


def test_the_default_segmenter_leaves_render_fingerprints_as_they_were():
    """A model or render made before the setting existed keeps its fingerprint (nothing re-renders)."""
    assert "segmenter" not in RenderSettings().to_dict()
    assert RenderSettings(segmenter="silero").to_dict()["segmenter"] == "silero"
    assert RenderSettings.from_dict(RenderSettings().to_dict()) == RenderSettings()

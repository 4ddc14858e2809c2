"""Which voice-activity detector: Silero VAD (ser_img.speech.vad), WebRTC's VAD, or the energy gate.

    python experiments/vad_choice.py [--ravdess ../shared/ravdess]
    # WebRTC's rows need `pip install webrtcvad-wheels` (in a throwaway environment: it is not
    # a dependency of ser-img); without it they are left out.

Sounds at 16 kHz: 10 RAVDESS clips (actors 01-05, trimmed 30 dB below their peak: speech
throughout), 20 s each of mains hum (50 Hz and harmonics), white noise, pink noise and
piano-like chords (three notes with five harmonics, decaying, changing every 0.5 s). Prints
the part of each sound that each detector calls speech, and seconds per 10 minutes of audio.
The figures are in docs/conversations.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ser_img.audio.decode import load_audio
from ser_img.speech.segmenter import EnergySegmenter, SileroSegmenter
from ser_img.audio.signal import trim_silence

RATE = 16000


def sounds(ravdess: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    files = sorted(ravdess.glob("Actor_0[1-5]/*.*"))[::30][:10]
    speech = np.concatenate([trim_silence(load_audio(f, RATE).samples, 512, 128, 30.0) for f in files])
    t = np.arange(20 * RATE) / RATE
    hum = 0.2 * (np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t) + 0.3 * np.sin(2 * np.pi * 250 * t))
    white = 0.05 * rng.standard_normal(len(t))
    spectrum = np.fft.rfft(rng.standard_normal(len(t)))
    pink = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(len(spectrum)), 1)), len(t))
    music = np.zeros(len(t))
    for k in range(40):
        start, tt = int(k * 0.5 * RATE), np.arange(int(0.5 * RATE)) / RATE
        for note in rng.choice([220, 247, 262, 294, 330, 349, 392, 440, 494, 523], 3, replace=False):
            for h in range(1, 6):
                music[start : start + len(tt)] += (0.08 / h) * np.sin(2 * np.pi * note * h * tt) * np.exp(-3 * tt)
    found = {"speech": speech, "hum": hum, "white noise": white, "pink noise": 0.05 * pink / pink.std(),
             "music": music}
    return {name: x.astype(np.float32) for name, x in found.items()}


def ours(segmenter):
    def detect(x: np.ndarray) -> float:
        mask = segmenter.new_mask(RATE)
        for _ in segmenter.follow([x], mask):
            pass
        return mask.seconds() / (len(x) / RATE)
    return detect


def webrtc(mode: int):
    import webrtcvad

    vad = webrtcvad.Vad(mode)

    def detect(x: np.ndarray) -> float:
        pcm, frame = (np.clip(x, -1, 1) * 32767).astype(np.int16), 480  # 30-ms frames
        return float(np.mean([vad.is_speech(pcm[i : i + frame].tobytes(), RATE)
                              for i in range(0, len(pcm) - frame + 1, frame)]))
    return detect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "ravdess")
    args = parser.parse_args()
    test = sounds(args.ravdess)
    detectors = {"silero": ours(SileroSegmenter()), "energy (-50 dBFS)": ours(EnergySegmenter())}
    try:
        detectors |= {"webrtc mode 0": webrtc(0), "webrtc mode 3": webrtc(3)}
    except ImportError:
        print("(webrtcvad not installed: WebRTC's rows left out)")
    ten_minutes = np.tile(test["speech"], 40)[: 600 * RATE]
    print("| detector | " + " | ".join(test) + " | s per 10 min |")
    print("|---" * (len(test) + 2) + "|")
    for name, detect in detectors.items():
        parts = [f"{detect(x):.0%}" for x in test.values()]
        start = time.perf_counter()
        detect(ten_minutes)
        print(f"| {name} | " + " | ".join(parts) + f" | {time.perf_counter() - start:.2f} |")


if __name__ == "__main__":
    main()

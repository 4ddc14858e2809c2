"""Speech pieces and their CAM++ embeddings of the benchmark's conversations, cached for
experiments/diarization_choice.py (issue 24).

    OMP_NUM_THREADS=1 python experiments/diarization_cache.py --seed 1 [--variants 1,0.3,3,snr15]

For each conversation of benchmarks/conversation_build.py (1-4 speakers, six corpora) and each
variant (a gain, or another SNR), the conversation's speech as the recognizer finds it (Silero
VAD, `speakers.pieces`), and every piece's CAM++ embedding, saved to
`--out/<conversation>-<variant>.npz` (reused when there).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from conversation_build import CORPORA, SNR_DB, build_all, with_gain  # noqa: E402

from ser_img.conversation import speakers  # noqa: E402
from ser_img.features.campplus import shared_encoder  # noqa: E402
from ser_img.speech.segmenter import SileroSegmenter, speech_spans  # noqa: E402

RATE = 16000


def variant_wavs(variant: str, seed: int, conversations: int, cache: Path, counts) -> list[tuple[Path, dict]]:
    """The conversations of one variant: '1', '0.3', '3' (gains) or 'snr15'."""
    snr = float(variant[3:]) if variant.startswith("snr") else SNR_DB
    gain = 1.0 if variant.startswith("snr") else float(variant)
    built = build_all(CORPORA, counts, conversations, seed, snr, cache)
    return [with_gain(wav, info, gain) for wav, info in built]


def embed_conversation(wav: Path, out: Path, piece_s: float) -> None:
    audio, rate = soundfile.read(str(wav), dtype="float32")
    assert rate == RATE
    stretches = speech_spans(SileroSegmenter(), [audio], RATE)
    speakers.PIECE_S = piece_s
    pieces = speakers.pieces(stretches, RATE)
    embedded = shared_encoder().embed_batch([audio[s:e] for s, e in pieces])
    np.savez(out, stretches=stretches, pieces=pieces, embeddings=embedded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default="1")
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--counts", default="1,2,3,4")
    parser.add_argument("--piece", type=float, default=1.6, help="seconds per piece (speakers.PIECE_S)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ser_img_conversations"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/ser_img_diarization"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    counts = [int(c) for c in args.counts.split(",")]
    for variant in args.variants.split(","):
        began = time.perf_counter()
        built = variant_wavs(variant, args.seed, args.conversations, args.cache, counts)
        for wav, info in built:
            out = args.out / f"{wav.stem}.npz"
            if not out.exists():
                embed_conversation(wav, out, args.piece)
        print(f"{variant}: {len(built)} conversations, {time.perf_counter() - began:.0f} s", flush=True)


if __name__ == "__main__":
    main()

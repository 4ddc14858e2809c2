"""Other corpora's file names give a label and a corpus-prefixed speaker; the rest stay unlabelled."""

from pathlib import Path

import pytest

from ser_img.labels import EMOTIONS, clip_info


@pytest.mark.parametrize("path, label, speaker", [
    ("TESS/OAF_Fear/OAF_back_fear.wav", "fearful", "tess-OAF"),
    ("YAF_witch_ps.wav", "surprised", "tess-YAF"),
    ("oaf_Bath_Angry.wav", "angry", "tess-OAF"),
    ("YAF_date_disgust.wav", "disgust", "tess-YAF"),
    ("OAF_cab_neutral.wav", "neutral", "tess-OAF"),
    ("YAF_bite_happy.wav", "happy", "tess-YAF"),
    ("OAF_dime_sad.wav", "sad", "tess-OAF"),
    ("SAVEE/DC/a01.wav", "angry", "savee-DC"),
    ("JE/d03.wav", "disgust", "savee-JE"),
    ("JK/f15.wav", "fearful", "savee-JK"),
    ("KL/h02.wav", "happy", "savee-KL"),
    ("DC/n30.wav", "neutral", "savee-DC"),
    ("DC/sa01.wav", "sad", "savee-DC"),
    ("dc/su12.wav", "surprised", "savee-DC"),
    ("AudioData/KL_sa07.wav", "sad", "savee-KL"),
    ("CREMA-D/AudioWAV/1001_DFA_ANG_XX.wav", "angry", "crema-1001"),
    ("1012_IEO_DIS_HI.wav", "disgust", "crema-1012"),
    ("1091_TIE_FEA_LO.wav", "fearful", "crema-1091"),
    ("1050_IWW_HAP_MD.wav", "happy", "crema-1050"),
    ("1002_ITH_NEU_XX.wav", "neutral", "crema-1002"),
    ("1003_WSI_SAD_X.wav", "sad", "crema-1003"),
    ("Actor_07/03-01-08-02-02-01-07.wav", "surprised", "ravdess-07"),
])
def test_corpus_names_give_label_and_prefixed_speaker(path, label, speaker):
    info = clip_info(Path(path))
    assert (info.label, info.speaker) == (label, speaker)


@pytest.mark.parametrize("path", [
    "misc/a01.wav",  # SAVEE's short names count only inside a speaker folder
    "DC/x01.wav",  # not a SAVEE emotion code
    "DC/a1.wav",
    "OAF_back_calm.wav",  # TESS has no calm
    "ABC_back_fear.wav",  # not a TESS speaker
    "1001_DFA_ANG_ZZ.wav",  # not a CREMA-D level
    "1001_DFA_XYZ_HI.wav",  # not a CREMA-D emotion
    "recording_2024.wav",
])
def test_names_outside_every_scheme_are_unlabelled(path):
    info = clip_info(Path(path))
    assert (info.label, info.speaker) == (None, None)


def test_an_emotion_folder_still_labels_an_unrecognised_name():
    info = clip_info(Path("mine/Happy/OAF_back_calm.wav"))
    assert (info.label, info.speaker) == ("happy", None)


def test_every_corpus_maps_only_onto_the_eight_classes():
    names = ["OAF_a_angry", "OAF_a_disgust", "OAF_a_fear", "OAF_a_happy", "OAF_a_neutral", "OAF_a_ps",
             "OAF_a_sad", *(f"1001_DFA_{code}_HI" for code in ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]),
             *(f"DC_{code}01" for code in ["a", "d", "f", "h", "n", "sa", "su"])]
    labels = {clip_info(Path(f"{name}.wav")).label for name in names}
    assert labels == set(EMOTIONS) - {"calm"}


def test_mixed_corpora_render_with_speakers_that_group_across_corpora(tmp_path):
    from dataclasses import replace

    from pipelines.render import render_folder
    from tests.conftest import TINY_RENDER
    from tests.sounds import tone, write

    for relative in ["tess/OAF_back_fear.wav", "tess/YAF_back_ps.wav", "savee/DC/sa01.wav",
                     "crema/1001_DFA_ANG_XX.wav", "Actor_01/03-01-02-01-01-01-01.wav", "other/clip.wav"]:
        write(tmp_path / "audio" / relative, tone(0.5), 16000)
    report = render_folder([tmp_path / "audio"], tmp_path / "img", replace(TINY_RENDER, window_s=0.5), workers=1)
    found = {Path(row.source).name: (row.label, row.speaker) for row in report.rows}
    assert found == {
        "OAF_back_fear.wav": ("fearful", "tess-OAF"), "YAF_back_ps.wav": ("surprised", "tess-YAF"),
        "sa01.wav": ("sad", "savee-DC"), "1001_DFA_ANG_XX.wav": ("angry", "crema-1001"),
        "03-01-02-01-01-01-01.wav": ("calm", "ravdess-01"), "clip.wav": ("", ""),
    }

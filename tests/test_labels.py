from pathlib import Path

import pytest

from ser_img.labels import (EMOTIONS, ClipInfo, clip_info, parse_emodb_name, parse_ravdess_name, parse_tess_name,
                            ravdess_stem)


def test_ravdess_name_gives_every_field():
    info = parse_ravdess_name("03-01-06-02-01-02-12")
    assert info.label == "fearful"
    assert info.speaker == "ravdess-12"
    assert (info.intensity, info.statement, info.repetition) == (2, 1, 2)


def test_every_emotion_code_maps_in_order():
    labels = [parse_ravdess_name(f"03-01-{code:02d}-01-01-01-01").label for code in range(1, 9)]
    assert labels == list(EMOTIONS)


def test_names_that_are_not_ravdess_are_rejected():
    for stem in ["03-01-09-01-01-01-01", "03-01-00-01-01-01-01", "hello", "03-01-05-01-01-01", "3-1-5-1-1-1-1"]:
        assert parse_ravdess_name(stem) is None


def test_stem_round_trip():
    stem = ravdess_stem("surprised", 2, 2, 1, 7)
    assert stem == "03-01-08-02-02-01-07"
    assert parse_ravdess_name(stem).label == "surprised"


def test_other_files_take_the_label_of_an_emotion_folder():
    assert clip_info(Path("my_data/Angry/take3.wav")).label == "angry"
    assert clip_info(Path("my_data/angry/take3.wav")).speaker is None
    assert clip_info(Path("my_data/misc/take3.wav")).label is None


# EmoDB (Berlin): speaker, text, emotion letter (German initials), version.
@pytest.mark.parametrize("path, label, speaker", [
    ("emodb/wav/03a01Fa.wav", "happy", "emodb-03"),  # Freude
    ("16b10Wb.wav", "angry", "emodb-16"),  # Wut
    ("08a02Ec.wav", "disgust", "emodb-08"),  # Ekel
    ("09b03Ad.wav", "fearful", "emodb-09"),  # Angst
    ("11a04Ta.wav", "sad", "emodb-11"),  # Trauer
    ("15a07Na.wav", "neutral", "emodb-15"),
    ("13b09fa.wav", "happy", "emodb-13"),  # a copy that lower-cased the name
])
def test_emodb_names_give_label_and_speaker(path, label, speaker):
    info = clip_info(Path(path))
    assert (info.label, info.speaker, info.note) == (label, speaker, None)


def test_emodb_boredom_keeps_its_speaker_and_says_why_it_has_no_label():
    info = clip_info(Path("emodb/wav/03a01Lb.wav"))
    assert (info.label, info.speaker) == (None, "emodb-03")
    assert "boredom" in info.note and "eight classes" in info.note
    # a boredom clip in a folder named after a class is still not that class
    assert clip_info(Path("calm/03a01Lb.wav")).label is None


@pytest.mark.parametrize("stem", [
    "17a01Fa",  # not one of the ten speakers
    "03a03Fa",  # not one of the ten texts
    "03a01Xa",  # not an emotion letter
    "03a01F",  # no version
    "03a01Fab",
])
def test_names_of_emodb_shape_outside_its_lists_are_not_emodb(stem):
    assert parse_emodb_name(stem) is None
    assert clip_info(Path(f"{stem}.wav")).speaker is None


# TESS as distributed: the dataverse's and Kaggle's folders, and copies that respell names.
@pytest.mark.parametrize("path, label, speaker", [
    ("TESS Toronto emotional speech set data/OAF_angry/OAF_back_angry.wav", "angry", "tess-OAF"),
    ("TESS Toronto emotional speech set data/TESS Toronto emotional speech set data/OAF_Fear/OAF_bean_fear.wav",
     "fearful", "tess-OAF"),
    ("tess/OAF_Pleasant_surprise/OAF_back_ps.wav", "surprised", "tess-OAF"),
    ("tess/YAF_pleasant_surprised/YAF_back_ps.wav", "surprised", "tess-YAF"),
    ("YAF_back_pleasant_surprised.wav", "surprised", "tess-YAF"),
    ("OAF_back_Pleasant_Surprise.wav", "surprised", "tess-OAF"),
    ("testnew/OAF_back_angry.wav", "angry", "tess-OAF"),
    ("data/testnew/YAF_sad/YAF_kite_sad.wav", "sad", "tess-YAF"),
    ("OAF back Angry.wav", "angry", "tess-OAF"),  # spaces for underscores
    ("YAF-chair-happy.wav", "happy", "tess-YAF"),
    (" YAF_dog_sad .wav", "sad", "tess-YAF"),
    ("OAF_back_angry (1).wav", "angry", "tess-OAF"),  # a copy's marker
    ("OAF_back_disgust - Copy.wav", "disgust", "tess-OAF"),
    ("oaf_BACK_NEUTRAL.WAV", "neutral", "tess-OAF"),
    ("YAF_back_fearful.wav", "fearful", "tess-YAF"),
    ("YAF_back_sadness.wav", "sad", "tess-YAF"),
])
def test_tess_variants_give_label_and_speaker(path, label, speaker):
    info = clip_info(Path(path))
    assert (info.label, info.speaker) == (label, speaker)


def test_a_renamed_file_in_a_tess_folder_takes_the_folder_s_speaker_and_emotion():
    assert clip_info(Path("testnew/YAF_fear/take 3.wav")) == ClipInfo(label="fearful", speaker="tess-YAF")
    assert clip_info(Path("OAF_Pleasant_surprise/x/clip.wav")).label == "surprised"
    # the file's own TESS name wins over its folder's
    assert clip_info(Path("OAF_angry/OAF_back_sad.wav")).label == "sad"
    # a folder that only looks like TESS labels nothing
    assert clip_info(Path("OAF_calm/clip.wav")) == ClipInfo(label=None, speaker=None)
    assert clip_info(Path("ABC_angry/clip.wav")) == ClipInfo(label=None, speaker=None)


@pytest.mark.parametrize("stem", ["OAF_back_calm", "OAF_back", "OAF__angry", "XAF_back_angry", "OAF_back_angry_2"])
def test_tess_lookalikes_are_not_tess(stem):
    assert parse_tess_name(stem) is None

from pathlib import Path

from ser_img.labels import EMOTIONS, clip_info, parse_ravdess_name, ravdess_stem


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

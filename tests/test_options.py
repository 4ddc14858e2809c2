"""RecognizerOptions: built and validated once, from keywords or text fields, and carried whole."""

import pickle

import pytest

from ser_img.errors import UsageError
from ser_img.options import RecognizerOptions


def test_text_fields_become_values_and_none_means_default():
    options = RecognizerOptions.from_fields({"speakers": "2", "window_s": 4.0, "hop_s": None})
    assert options.speakers == 2 and options.window_s == 4.0 and options.hop_s is None
    assert RecognizerOptions.from_fields({"speakers": " AUTO "}).speakers == "auto"


@pytest.mark.parametrize("fields", [{"window_s": 0}, {"hop_s": -1.0}, {"speakers": 0}, {"speakers": "two"},
                                    {"segmenter": "webrtc"}, {"workers": 0}, {"min_speech_s": -0.1},
                                    {"max_duration_s": 0}, {"colour": "blue"}, {"window_s": 0.3}])
def test_bad_values_are_refused_with_a_usage_error(fields):
    with pytest.raises(UsageError):
        RecognizerOptions.from_fields(fields)


def test_the_window_defaults_to_the_models_and_the_hop_to_half_of_it():
    assert RecognizerOptions().window(3.0) == (3.0, 1.5)
    assert RecognizerOptions(window_s=4.0).window(3.0) == (4.0, 2.0)
    assert RecognizerOptions(window_s=4.0, hop_s=1.0).window(3.0) == (4.0, 1.0)


def test_replace_validates_again_and_keeps_the_object_when_nothing_changes():
    options = RecognizerOptions(speakers="auto")
    assert options.replace(speakers="auto") is options
    assert options.replace(speakers="3").speakers == 3
    with pytest.raises(UsageError):
        options.replace(window_s=-1.0)


def test_options_travel_to_worker_processes_whole():
    options = RecognizerOptions(window_s=5.0, speakers="channels", workers=2)
    assert pickle.loads(pickle.dumps(options)) == options

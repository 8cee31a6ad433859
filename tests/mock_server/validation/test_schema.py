"""Fast unit tests of `mock_server.validation`: the wording of refusals, without a server.

The messages are part of the contract (docs/contract.md, "Errors and business codes": a bad field's message names
its path), so their exact text is pinned here, not only their code.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs
import pytest

from mock_server.core.errors import BusinessCode, KlingError
from mock_server.spec import Spec, load_spec
from mock_server.validation import validate_body
from tests.support import SPEC_CREATE_PATH

TEXT2VIDEO: dict[str, Any] = {
    "video_id": "de1b86d9-8e40-4f1c-a6a5-6459f8eb42f2",
    "mode": "text2video",
    "text": "Hello, this is my digital twin speaking.",
    "voice_id": "girlfriend_1_speech02",
}
AUDIO_FILE: dict[str, Any] = {
    "video_url": "https://example.com/videos/presenter.mp4",
    "mode": "audio2video",
    "audio_type": "file",
    "audio_file": "SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4Ljc2LjEwMAAAAAAAAAAAAAAA",
}
AUDIO_URL: dict[str, Any] = {
    "video_id": "v",
    "mode": "audio2video",
    "audio_type": "url",
    "audio_url": "https://example.com/audio/voiceover.mp3",
}
ANY_OF = "input: at least one of video_id, video_url is required and must be non-empty"
# The lip-sync creates, as the spec names them: the older one takes identify-face's documented body.
ADVANCED_LIP_SYNC_PATH = "/v1/videos/advanced-lip-sync"
LIP_SYNC_PATH = "/v1/videos/lip-sync"
FACE_CHOICE: dict[str, Any] = {
    "face_id": "0",
    "sound_file": "https://example.com/audio/voice-6s.mp3",
    "sound_start_time": 0,
    "sound_end_time": 4000,
    "sound_insert_time": 500,
}
ADVANCED: dict[str, Any] = {"session_id": "CmJ8DGePZioAAAAAAFIvOQ", "face_choose": [FACE_CHOICE]}


@cache
def _spec() -> Spec:
    return load_spec()


def _validator(path: str = SPEC_CREATE_PATH) -> jsonschema_rs.Validator:
    operation = next(op for op in _spec().operations if op.method == "POST" and op.path == path)
    assert operation.body_validator is not None
    return operation.body_validator


def refusal(body: Any, path: str = SPEC_CREATE_PATH) -> KlingError:
    with pytest.raises(KlingError) as caught:
        validate_body(_spec().document, _validator(path), body)
    return caught.value


def without(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name not in names}


@pytest.mark.parametrize(
    "body",
    [
        {"input": TEXT2VIDEO},
        {"input": {**TEXT2VIDEO, "video_url": "https://xxxxxxx.mp4", "voice_language": "zh"}},
        {"input": AUDIO_FILE, "callback_url": "https://example.com/hooks"},
        {"input": AUDIO_URL, "unknown": {"nested": [1, 2]}},
        {"input": {**TEXT2VIDEO, "voice_speed": 0.8}},
        {"input": {**TEXT2VIDEO, "voice_speed": 2}},
    ],
    ids=["text2video", "seed_example", "audio_file", "audio_url_extra_field", "speed_min", "speed_max_int"],
)
def test_valid_bodies_pass(body: Any) -> None:
    validate_body(_spec().document, _validator(), body)


EXACT_MESSAGES: dict[str, tuple[Any, str]] = {
    "missing_input": (
        {},
        "input: is required; the task's fields go inside it (fields at the top level are the upstream dialect's shape)",
    ),
    "input_not_object": ({"input": "text2video"}, "input: must be of type object"),
    "missing_mode": ({"input": without(TEXT2VIDEO, "mode")}, "input.mode: is required"),
    "bad_mode": ({"input": {**TEXT2VIDEO, "mode": "bogus"}}, "input.mode: must be one of text2video, audio2video"),
    "text_missing": ({"input": without(TEXT2VIDEO, "text")}, "input.text: required when mode is text2video"),
    "voice_id_missing": (
        {"input": without(TEXT2VIDEO, "voice_id")},
        "input.voice_id: required when mode is text2video",
    ),
    "text_too_long": ({"input": {**TEXT2VIDEO, "text": "x" * 121}}, "input.text: must be at most 120 characters long"),
    "voice_language": (
        {"input": {**TEXT2VIDEO, "voice_language": "fr"}},
        "input.voice_language: must be one of zh, en",
    ),
    "voice_speed_low": ({"input": {**TEXT2VIDEO, "voice_speed": 0.79}}, "input.voice_speed: must be >= 0.8"),
    "voice_speed_high": ({"input": {**TEXT2VIDEO, "voice_speed": 2.01}}, "input.voice_speed: must be <= 2.0"),
    "voice_speed_type": ({"input": {**TEXT2VIDEO, "voice_speed": "1"}}, "input.voice_speed: must be of type number"),
    "audio_type_missing": (
        {"input": without(AUDIO_URL, "audio_type")},
        "input.audio_type: required when mode is audio2video",
    ),
    "audio_type_bad": ({"input": {**AUDIO_URL, "audio_type": "stream"}}, "input.audio_type: must be one of file, url"),
    "audio_file_missing": (
        {"input": without(AUDIO_FILE, "audio_file")},
        "input.audio_file: required when audio_type is file",
    ),
    "audio_url_missing": (
        {"input": without(AUDIO_URL, "audio_url")},
        "input.audio_url: required when audio_type is url",
    ),
    "no_video": ({"input": without(TEXT2VIDEO, "video_id")}, ANY_OF),
    "empty_video_id": ({"input": {**TEXT2VIDEO, "video_id": ""}}, ANY_OF),
    "callback_url_type": ({"input": TEXT2VIDEO, "callback_url": 5}, "callback_url: must be of type string"),
}


@pytest.mark.parametrize(("body", "message"), EXACT_MESSAGES.values(), ids=EXACT_MESSAGES.keys())
def test_exact_message_for_one_broken_rule(body: Any, message: str) -> None:
    error = refusal(body)
    assert error.code == BusinessCode.INVALID_PARAMETER
    assert error.message == message


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"input": {**TEXT2VIDEO, "video_url": "not a url"}}, "input.video_url"),
        ({"input": TEXT2VIDEO, "callback_url": "ftp://example.com/hook"}, "callback_url"),
        ({"input": {**AUDIO_FILE, "audio_file": "data:audio/mp3;base64,SUQz"}}, "input.audio_file"),
        ({"input": {**AUDIO_URL, "audio_url": "/relative.mp3"}}, "input.audio_url"),
    ],
    ids=["video_url", "callback_url", "audio_file", "audio_url"],
)
def test_pattern_and_format_messages_name_the_path(body: Any, path: str) -> None:
    """Pattern and format wording quotes the schema, not the value; only the path is pinned."""
    error = refusal(body)
    assert error.code == BusinessCode.INVALID_PARAMETER
    assert all(part.startswith(f"{path}: must ") for part in error.message.split("; "))


def test_several_violations_are_all_named() -> None:
    error = refusal({"input": {**TEXT2VIDEO, "voice_speed": 0.79, "voice_language": "fr"}})
    assert set(error.message.split("; ")) == {
        "input.voice_speed: must be >= 0.8",
        "input.voice_language: must be one of zh, en",
    }


def test_many_violations_are_capped() -> None:
    names = ["video_id", "video_url", "mode", "text", "voice_id", "voice_language", "audio_type", "audio_file"]
    error = refusal({"input": dict.fromkeys(names, 1), "callback_url": 1})
    parts = error.message.split("; ")
    assert len(parts) == 6
    assert parts[-1].startswith("and ") and parts[-1].endswith(" more")


@pytest.mark.parametrize("body", [[], [{"input": TEXT2VIDEO}], "input", 0, 1.5, True, None], ids=repr)
def test_a_body_that_is_not_an_object_is_an_invalid_request(body: Any) -> None:
    """1200 when the body is not even an object; every rule inside the object is 1201."""
    error = refusal(body)
    assert error.code == BusinessCode.INVALID_REQUEST
    assert error.message == "body: must be a JSON object"


@pytest.mark.parametrize(
    "body",
    [{"input": []}, {"input": None}, {}, {"input": {}}, {"input": TEXT2VIDEO, "callback_url": []}],
    ids=["input_list", "input_null", "empty_object", "empty_input", "callback_list"],
)
def test_anything_wrong_inside_the_object_is_an_invalid_parameter(body: Any) -> None:
    assert refusal(body).code == BusinessCode.INVALID_PARAMETER


LARGE = "Z" * 200_000
SECRET = "sk-live-0123456789abcdef"
NO_ECHO: dict[str, Any] = {
    "mode": {"input": {**TEXT2VIDEO, "mode": LARGE}},
    "text": {"input": {**TEXT2VIDEO, "text": LARGE}},
    "voice_language": {"input": {**TEXT2VIDEO, "voice_language": LARGE}},
    "video_url": {"input": {**TEXT2VIDEO, "video_url": LARGE}},
    "audio_file_pattern": {"input": {**AUDIO_FILE, "audio_file": LARGE + "!"}},
    "audio_file_length": {"input": {**AUDIO_FILE, "audio_file": "QUJD" * 2_000_000}},
    "input_string": {"input": LARGE},
    "input_list": {"input": [LARGE]},
    "any_of_with_large_siblings": {"input": {**without(TEXT2VIDEO, "video_id"), "extra": LARGE}},
    "callback_url": {"input": TEXT2VIDEO, "callback_url": LARGE},
    "root_list": [LARGE],
    "secret_in_mode": {"input": {**TEXT2VIDEO, "mode": SECRET}},
    "secret_in_voice_speed": {"input": {**TEXT2VIDEO, "voice_speed": SECRET}},
}


# Advanced lip-sync's own fields; the older lip-sync create takes identify-face's body, so NO_ECHO's cases.
NO_ECHO_ADVANCED: dict[str, Any] = {
    "session_id_type": {**ADVANCED, "session_id": [LARGE]},
    "face_choose_string": {**ADVANCED, "face_choose": LARGE},
    "face_choose_list_of_strings": {**ADVANCED, "face_choose": [LARGE]},
    "face_id_type": {**ADVANCED, "face_choose": [{**FACE_CHOICE, "face_id": [LARGE]}]},
    "sound_file_pattern": {**ADVANCED, "face_choose": [{**FACE_CHOICE, "sound_file": LARGE + "!"}]},
    "sound_file_length": {**ADVANCED, "face_choose": [{**FACE_CHOICE, "sound_file": "QUJD" * 2_000_000}]},
    "sound_start_time_secret": {**ADVANCED, "face_choose": [{**FACE_CHOICE, "sound_start_time": SECRET}]},
    "sound_volume_secret": {**ADVANCED, "face_choose": [{**FACE_CHOICE, "sound_volume": SECRET}]},
    "watermark_info": {**ADVANCED, "watermark_info": LARGE},
    "external_task_id": {**ADVANCED, "external_task_id": [LARGE]},
    "callback_url": {**ADVANCED, "callback_url": LARGE},
    "callback_url_secret": {**ADVANCED, "callback_url": SECRET},
    "root_list": [LARGE],
}
NO_ECHO_CASES = [
    *(pytest.param(SPEC_CREATE_PATH, body, id=f"identify-face-{name}") for name, body in NO_ECHO.items()),
    *(pytest.param(LIP_SYNC_PATH, body, id=f"lip-sync-{name}") for name, body in NO_ECHO.items()),
    *(
        pytest.param(ADVANCED_LIP_SYNC_PATH, body, id=f"advanced-lip-sync-{name}")
        for name, body in NO_ECHO_ADVANCED.items()
    ),
]


def test_the_advanced_lip_sync_body_the_no_echo_cases_break_is_valid() -> None:
    """Each case breaks one field of a body the schema accepts, so its refusal is about that field."""
    validate_body(_spec().document, _validator(ADVANCED_LIP_SYNC_PATH), ADVANCED)


@pytest.mark.parametrize(("path", "body"), NO_ECHO_CASES)
def test_messages_never_echo_the_value(path: str, body: Any) -> None:
    message = refusal(body, path).message
    assert len(message) < 300
    assert "ZZZZ" not in message and "QUJDQUJD" not in message and SECRET not in message

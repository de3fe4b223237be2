"""The one request type: defaults, ranges, strict types, and how it crosses the wire."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepflash_client import protocol
from deepflash_client.errors import InvalidOptionError
from deepflash_client.options import BACKGROUNDS, DEFAULT_LOOK, FIELDS, STRENGTH_RANGE, Options


def test_defaults_keep_the_background_fix_red_eyes_and_send_no_matte():
    options = Options()
    assert (options.strength, options.whole_image, options.background, options.red_eye, options.with_matte) == \
        (1.0, False, "keep", True, False)
    assert options.look == DEFAULT_LOOK
    assert FIELDS == ("strength", "whole_image", "background", "red_eye", "with_matte", "look")


@given(st.floats(min_value=STRENGTH_RANGE[0], max_value=STRENGTH_RANGE[1]))
def test_every_strength_in_range_is_kept_as_a_float(strength):
    assert Options(strength=strength).strength == strength
    assert isinstance(Options(strength=int(strength)).strength, float)


@pytest.mark.parametrize("strength", [-0.001, 1.0001, math.nan, math.inf, -math.inf, True, "0.5", None])
def test_strengths_outside_the_range_or_not_numbers_are_refused(strength):
    with pytest.raises(InvalidOptionError, match="strength"):
        Options(strength=strength)


@pytest.mark.parametrize("strength", [10**400, -10**400, 2**1024, 10**5000],
                         ids=["1e400", "-1e400", "2^1024", "1e5000"])
def test_integers_too_large_for_a_float_are_refused_by_name_in_a_short_message(strength):
    with pytest.raises(InvalidOptionError, match="strength") as caught:
        Options(strength=strength)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("field", ["whole_image", "red_eye", "with_matte"])
@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_flags_must_be_booleans(field, value):
    with pytest.raises(InvalidOptionError, match=field):
        Options(**{field: value})


@pytest.mark.parametrize("background", ["blur", "", "KEEP", None, 1])
def test_unknown_backgrounds_are_refused(background):
    with pytest.raises(InvalidOptionError, match="background"):
        Options(background=background)


def test_unknown_option_names_are_refused():
    with pytest.raises(InvalidOptionError, match="sharpen"):
        Options.from_dict({"strength": 0.5, "sharpen": True})


@given(st.builds(Options, strength=st.floats(*STRENGTH_RANGE), whole_image=st.booleans(),
                 background=st.sampled_from(BACKGROUNDS), red_eye=st.booleans(), with_matte=st.booleans()))
def test_options_survive_the_protocol_header_unchanged(options):
    header = protocol.encode_request(protocol.OP_PROCESS, "id", protocol.ImageSpec(2, 1, 3, "u8"), options)
    request = protocol.parse_request([header, bytes(6)], protocol.Limits())
    assert request.options == options


def test_a_header_may_leave_options_out_and_gets_the_defaults():
    header = b'{"v":1,"op":"process","id":"a","width":2,"height":1,"channels":3,"dtype":"u8"}'
    assert protocol.parse_request([header, bytes(6)], protocol.Limits()).options == Options()


def test_the_module_imports_with_the_standard_library_only():
    code = ("import sys; import deepflash_client.options; "
            "heavy = {'numpy', 'torch', 'zmq', 'cv2'} & set(sys.modules); assert not heavy, heavy; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr

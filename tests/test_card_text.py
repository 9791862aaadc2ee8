"""Text that reaches model cards, config.json and the explorer (issue 23): a profile's
description is plain text (markup refused at load), a license is an SPDX id or `other`, and
the cards escape such text in their Markdown bodies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from _bad_input_helpers import refused
from _package_helpers import digits, tiny_supernet, write_front, write_profile
from _profiles_helpers import profile_dict
from _profiles_helpers import write_profile as write_profile_dict
from ofa2_zoo._text import MAX_PLAIN_TEXT, TextError, check_license, check_plain_text, markdown_text
from ofa2_zoo.package.cards import TEMPLATE_PATH, _template
from ofa2_zoo.package.package import PackageOptions
from ofa2_zoo.profiles import ProfileError, list_profiles, load_profile

MARKUP_FIX = ("markup that would reach the model cards (fix: remove HTML tags, Markdown links and backticks, and URL "
              "schemes like javascript:)")


# ---------------------------------------------------------------------------- plain text
@pytest.mark.parametrize("text, found", [
    ("fast <script>alert(1)</script>", "<"),
    ('<img src=x onerror="alert(1)">', "<"),
    ("see [docs](javascript:alert(1))", "["),
    ("javascript:alert(1)", "javascript:"),
    ("JaVaScRiPt :alert(1)", "JaVaScRiPt :"),
    ("data:text/html;base64,AAAA", "data:"),
    ("vbscript:msgbox", "vbscript:"),
    ("a `code` span", "`"),
    ("1 > 0", ">"),
])
def test_markup_is_refused(text, found):
    with pytest.raises(TextError) as exc:
        check_plain_text(text, "a description")
    assert str(exc.value) == f"a description must be plain text; it holds {found!r}, {MARKUP_FIX}"


@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x1b", "\u2028"])
def test_line_breaks_and_control_characters_are_refused(char):
    with pytest.raises(TextError, match=r"must be one line of printable text; it holds .* \(fix: remove line breaks"):
        check_plain_text(f"a{char}b", "a description")


def test_the_length_limit_holds_at_its_boundary():
    assert check_plain_text("x" * MAX_PLAIN_TEXT, "a description") == "x" * MAX_PLAIN_TEXT
    with pytest.raises(TextError, match=rf"^a description is {MAX_PLAIN_TEXT + 1} characters; at most "
                                        rf"{MAX_PLAIN_TEXT} \(fix: shorten it\)$"):
        check_plain_text("x" * (MAX_PLAIN_TEXT + 1), "a description")


def test_ordinary_descriptions_pass_unchanged():
    text = "Pixel 7 (Tensor G2), TFLite - batch 1, fp16; 4 threads & 50% load, x86_64 *fast*"
    assert check_plain_text(text, "a description") == text
    for pid in list_profiles():  # every shipped profile still loads
        load_profile(pid)


def test_a_profile_with_markup_in_its_description_is_refused_at_load(tmp_path):
    path = write_profile_dict(tmp_path, profile_dict(description="edge <img src=x onerror=alert(1)>"))
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert str(exc.value) == f"{path}: field 'description': a description must be plain text; it holds '<', {MARKUP_FIX}"


def test_cli_refuses_the_profile_in_one_line(tmp_path, capsys):
    path = write_profile_dict(tmp_path, profile_dict(description="[click](javascript:alert(1))"))
    refused(capsys, "profile", "show", path, match=r"^error: .*field 'description': a description must be plain text; "
                                                    r"it holds '\['")


# ---------------------------------------------------------------------------- escaping in the card bodies
def test_markdown_text_escapes_html_and_markdown():
    assert markdown_text("a <b> & [c](d) `e` *f* _g_ | h \\ i") == (
        r"a &lt;b&gt; &amp; \[c\](d) \`e\` \*f\* \_g\_ \| h \\ i")
    assert markdown_text("x86-64 CPU, onnxruntime (CPU provider), batch 1") == \
        "x86-64 CPU, onnxruntime (CPU provider), batch 1"


def test_the_card_template_escapes_every_description():
    text = TEMPLATE_PATH.read_text()
    assert text.count("{{ profile.description | md }}") == 3
    assert "{{ profile.description }}" not in text
    assert _template().environment.filters["md"] is markdown_text


# ---------------------------------------------------------------------------- licenses
@pytest.mark.parametrize("given, kept", [("MIT", "mit"), ("mit", "mit"), ("Apache-2.0", "apache-2.0"),
                                         ("CC-BY-4.0", "cc-by-4.0"), ("BSD-3-Clause", "bsd-3-clause"),
                                         ("other", "other"), ("OTHER", "other"), (" mit ", "mit")])
def test_spdx_ids_and_other_are_accepted_lowercase(given, kept):
    assert check_license(given) == kept


@pytest.mark.parametrize("given", ["not-a-license", "MIT AND Apache-2.0", "Classpath-exception-2.0",
                                   "LicenseRef-scancode-public-domain", "<script>", "", "mit\n"])
def test_anything_else_is_refused(given):
    if given == "mit\n":  # surrounding whitespace is trimmed, so this one is mit
        assert check_license(given) == "mit"
        return
    with pytest.raises(TextError) as exc:
        check_license(given)
    assert str(exc.value) == (f"license {given!r} is not an SPDX license id (fix: an id from https://spdx.org/licenses/ "
                              "such as mit, apache-2.0 or cc-by-4.0, or other)")


def test_package_options_normalise_and_check_the_license():
    assert PackageOptions(license="Apache-2.0").license == "apache-2.0"
    assert PackageOptions().license == "mit"
    with pytest.raises(TextError, match=r"license 'whatever' is not an SPDX license id"):
        PackageOptions(license="whatever")


def test_cli_package_refuses_a_bad_license_before_writing(tmp_path, capsys):
    write_front(tmp_path / "front", n=3)
    refused(capsys, "package", tmp_path / "front", "--out", tmp_path / "pkg", "--license", "<b>MIT</b>",
            match=r"^error: license '<b>MIT</b>' is not an SPDX license id", watch=(tmp_path,))
    assert not (tmp_path / "pkg").exists()


def test_the_license_given_is_what_the_package_records(tmp_path):
    from ofa2_zoo.package import package_front

    profile = write_profile(tmp_path / "profiles")
    write_front(tmp_path / "front", n=3)
    pkg = package_front(tmp_path / "front", tmp_path / "pkg", supernet=tiny_supernet(), data=digits, profile=profile,
                        members=1, license="Apache-2.0").path
    from ofa2_zoo.package.manifest import read_manifest

    member = Path(pkg) / read_manifest(pkg).members[0].folder
    config = json.loads((member / "config.json").read_text())
    assert config["pretrained_cfg"]["license"] == "apache-2.0"
    for card in (member / "README.md", Path(pkg) / "front" / "README.md"):
        assert re.search(r"^license: apache-2.0$", card.read_text(), re.M), card

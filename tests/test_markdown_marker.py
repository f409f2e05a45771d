"""A page sentence that holds the suppression marker twice ("Of the * offences ... (*)") must show both
markers, not turn the words between them italic (Markdown's emphasis), as the domestic-abuse sentence did."""

import mistune

from svtools.publish.sections.context import markdown_text


def test_markers_are_shown_and_bold_is_kept():
    sentence = ("**Public space and homes**: Of the * offences with the flag recorded, a share too small to show "
                "were flagged as domestic abuse (*) and a share too small to show were not (*).")
    html = mistune.html(markdown_text(sentence))
    assert "<strong>Public space and homes</strong>" in html
    assert "<em>" not in html
    assert html.count("*") == 3
    assert "Of the * offences" in html and "(*) and" in html and "not (*)." in html


def test_text_without_markers_is_unchanged():
    text = "**When**: offences by day of the week, 2018/19 to 2024/25 (1,234 offences)."
    assert markdown_text(text) == text
    assert markdown_text(r"already escaped \* marker") == r"already escaped \* marker"


def test_list_items_stay_a_list():
    text = "Key findings:\n\n* Of the * offences, (*) were at night.\n* Second finding.\n  * nested"
    html = mistune.html(markdown_text(text))
    assert html.count("<li>") == 3
    assert "Of the * offences, (*) were at night." in html and "<em>" not in html

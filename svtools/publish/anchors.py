"""Ids for the section headings of a published page, so a sentence can link to the section it comes from.

The pages are rendered without nbconvert's anchor links (``exclude_anchor_links``: no pilcrow after every
heading), which also leaves headings without ids. :func:`add_heading_ids` gives every ``<h2>`` to ``<h4>`` that
has no attributes an id made from its words by :func:`heading_id` (the one rule: the key findings build their
links with it), unique on the page (``-2``, ``-3`` ... for a repeated heading, in page order). Existing ids
(``main``, ``about-this-report``) are kept and never reused.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata

__all__ = ["heading_id", "add_heading_ids", "page_ids"]

_HEADING = re.compile(r"<h([2-4])>(.*?)</h\1>", re.S)
_TAG = re.compile(r"<[^>]+>")
_ID = re.compile(r"""\sid=["']([^"']+)["']""")


def heading_id(text: str) -> str:
    """The id of a heading from its words: lower case ASCII, runs of anything else as one hyphen.

    Examples
    --------
    >>> heading_id("Compared with the force area and other CSPs")
    'compared-with-the-force-area-and-other-csps'
    >>> heading_id("Statistical process control: serious violence")
    'statistical-process-control-serious-violence'
    >>> heading_id("Where: neighbourhood <em>hotspots</em>")
    'where-neighbourhood-hotspots'
    """
    words = _html.unescape(_TAG.sub("", str(text)))
    ascii_ = unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_).strip("-")
    return slug or "section"


def page_ids(html: str) -> set[str]:
    """Every ``id`` on a page (what an in-page link ``#id`` can point to)."""
    return set(_ID.findall(html))


def add_heading_ids(html: str) -> str:
    """``html`` with an id on every attribute-free ``<h2>``, ``<h3>`` and ``<h4>`` (:func:`heading_id` of its
    words, made unique on the page)."""
    taken = page_ids(html)

    def one(m: re.Match) -> str:
        base = heading_id(m.group(2))
        hid, n = base, 1
        while hid in taken:
            n += 1
            hid = f"{base}-{n}"
        taken.add(hid)
        return f'<h{m.group(1)} id="{hid}">{m.group(2)}</h{m.group(1)}>'

    return _HEADING.sub(one, html)

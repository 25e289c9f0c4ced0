"""The SVG charts: well-formed, titled, described in numbers, escaped, without scripts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from flask import g

from agency.results import charts
from agency.results.readings import Figures

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2026, 10, 1) + timedelta(days=n) for n in range(31)]


def parse(markup) -> ET.Element:
    root = ET.fromstring(str(markup))  # noqa: S314 - our own markup, in a test
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text
    assert desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    for element in root.iter():
        assert element.tag not in {f"{SVG}script", f"{SVG}style", f"{SVG}foreignObject"}
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
    return root


def texts(root: ET.Element) -> str:
    return " ".join(t for t in root.itertext())


@pytest.fixture
def english(app):
    with app.test_request_context():
        g.force_locale = "en"
        yield


@pytest.fixture
def french(app):
    with app.test_request_context():
        g.force_locale = "fr"
        yield


def test_impressions_chart_overlays_the_previous_period(english):
    current = [0] * 31
    current[4], current[11] = 12400, 300
    previous = [100] * 30
    root = parse(charts.impressions_chart(DAYS, current, previous))
    desc = root.find(f"{SVG}desc").text
    assert "12,700" in desc  # this period's total
    assert "3,000" in desc  # the previous period's
    assert "12,400 on 5 Oct" in desc  # its peak
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert lines[0].get("stroke-dasharray")  # the previous period, dashed, drawn first
    assert len(lines[1].get("points").split()) == 31
    assert root.findall(f"{SVG}polygon")  # this period's area
    words = texts(root)
    assert "This period" in words and "Previous period" in words
    assert "1 Oct" in words and "31 Oct" in words


def test_numbers_follow_the_readers_language(french):
    current = [0] * 31
    current[0] = 12400
    root = parse(charts.impressions_chart(DAYS, current, [0] * 30))
    assert "12\u202f400" in root.find(f"{SVG}desc").text


def test_followers_chart_leaves_a_gap_where_nothing_was_measured_yet(english):
    followers = [None, None] + [1000 + n for n in range(29)]
    root = parse(charts.followers_chart(DAYS, followers))
    [line] = root.findall(f"{SVG}polyline")
    assert len(line.get("points").split()) == 29
    desc = root.find(f"{SVG}desc").text
    assert "1,000 followers on 3 Oct" in desc and "1,028 on 31 Oct" in desc


def test_a_chart_without_figures_says_so(english):
    root = parse(charts.followers_chart(DAYS, [None] * 31))
    assert "No figures for this period yet." in texts(root)
    root = parse(charts.impressions_chart(DAYS, [0] * 31, [0] * 30, has_figures=False))
    assert "No figures" in texts(root)
    root = parse(charts.network_chart([], "engagement", "Engagement"))
    assert "No figures" in texts(root)


def test_network_bars_show_each_value_beside_its_bar(english):
    lines = [
        SimpleNamespace(name="Instagram", current=Figures(engagement=1500),
                        previous=Figures(engagement=900)),
        SimpleNamespace(name="Mastodon", current=Figures(engagement=None),
                        previous=Figures(engagement=40)),
    ]
    root = parse(charts.network_chart(lines, "engagement", "Engagement per network"))
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 4
    widths = [float(b.get("width")) for b in bars]
    assert widths[0] > widths[1] > widths[3] > widths[2] == 0
    words = texts(root)
    for shown in ("Instagram", "Mastodon", "1,500", "900", "—", "40"):
        assert shown in words
    assert "Mastodon: — (previous period: 40)" in root.find(f"{SVG}desc").text


def test_text_is_escaped(english):
    lines = [SimpleNamespace(name='<script>alert("x")</script> & Co', current=Figures(reach=5),
                             previous=Figures(reach=1))]
    markup = str(charts.network_chart(lines, "reach", 'Reach "per" <network>',
                                      chart_id='a"b'))
    assert "<script>" not in markup
    root = parse(markup)
    assert '<script>alert("x")</script> & Co' in texts(root)
    assert root.find(f"{SVG}title").text == 'Reach "per" <network>'


def test_nice_max_rounds_the_scale_up():
    assert [charts.nice_max(v) for v in (0, 1, 3, 7, 12, 95, 101, 12400)] == [
        1, 1, 5, 10, 20, 100, 200, 20000]

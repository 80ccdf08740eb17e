"""The report (report.html) and the message catalogue behind it, in fi, sv and en."""

from __future__ import annotations

import html
import re
import tomllib
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from maptools import BASELINE, PAYLOADS, POOR, SCENARIO, Quality, make_layers

from optimizer.errors import DataError, OutputError
from optimizer.i18n import LANGUAGES, format_number, format_share, message, messages
from optimizer.maps import map_html, map_solution
from optimizer.report import comparison_rows, report_html, write_report

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

#: One known label per language, written out (not read from the catalogue).
KNOWN = {
    "en": ("Headline", "Nearest joint service point", "Chosen service points"),
    "fi": ("Keskeiset tulokset", "Lähin yhteinen palvelupiste", "Valitut palvelupisteet"),
    "sv": ("Huvudresultat", "Närmaste yhteinen servicepunkt", "Valda servicepunkter"),
}


class Text(HTMLParser):
    """The text nodes of a page, and its tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        if data.strip():
            self.text.append(data)


def parse(page: str) -> Text:
    parser = Text()
    parser.feed(page)
    parser.close()
    return parser


def report(lang="en", **kwargs):
    layers = make_layers()
    options = {
        "title": "North Karelia: two points",
        "description": "Two joint points",
        "estimate": SCENARIO,
        "baseline": BASELINE,
        "sites": layers.sites,
        "quality": POOR,
        "synthetic_layers": ("population",),
        "assumptions": [("agencies.kela.visits_per_resident", "Kela 2023"), "travel.speed"],
        "lang": lang,
    }
    options.update(kwargs)
    return report_html(**options)


# --------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------


def test_every_message_has_every_language_with_the_same_placeholders():
    text = resources.files("optimizer").joinpath("messages.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    assert len(raw) > 100
    for key, entry in raw.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(isinstance(v, str) and v.strip() for v in entry.values()), key
        holes = {lang: set(re.findall(r"\{(\w+)\}", entry[lang])) for lang in LANGUAGES}
        assert holes["fi"] == holes["sv"] == holes["en"], key
        assert "<" not in "".join(entry.values()), key  # labels are text, never markup
    for lang in LANGUAGES:
        assert set(messages(lang)) == set(raw)


def test_every_key_the_code_asks_for_exists():
    keys = set(messages("en"))
    wanted: set[str] = set()
    for path in [*(ROOT / "optimizer").rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        wanted |= set(re.findall(r"message\(\s*\"(\w+)\"", source))
        wanted |= set(re.findall(r"^\s+\"(\w+)\",$", source, re.MULTILINE)) & keys
    # keys built from a prefix and a value
    for prefix, values in (
        ("tier_", ("full", "remote", "unused")),
        ("status_", ("kept", "new", "converted", "closed")),
        ("symbol_", ("kept", "new", "converted", "closed")),
        ("layer_points_", ("full", "remote", "closed", "unused")),
        ("data_layer_", ("population", "roads", "sites", "boundary")),
        ("layer_", ("full_minutes", "any_minutes", "change_full", "change_any")),
        ("stat_", ("mean", "median", "p90", "p99")),
        ("head_", ("full", "any")),
    ):
        wanted |= {prefix + v for v in values}
    assert len(wanted) > 60
    assert wanted - keys == set()


def test_numbers_follow_the_language():
    assert format_number(1234567.891, "en", digits=1) == "1,234,567.9"
    assert format_number(1234567.891, "fi", digits=1) == "1\u00a0234\u00a0567,9"
    assert format_number(-3.25, "sv", digits=1) == "\u22123,2"
    assert format_number(0.04, "en", digits=1, signed=True) == "0.0"
    assert format_share(0.953, "fi") == "95,3\u00a0%"
    assert format_share(-0.0123, "en", signed=True) == "-1.2 pp"
    with pytest.raises(DataError, match="lang"):
        message("tier_full", "de")
    with pytest.raises(DataError, match="no message"):
        message("no_such_key")
    assert message("head_within", "en", minutes="{x}") == "residents within {x} min"


# --------------------------------------------------------------------------------------
# The report in each language
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_is_written_in_its_language(lang):
    page = report(lang)
    doc = parse(page)
    assert f'<html lang="{lang}">' in page
    for label in KNOWN[lang]:
        assert label in doc.text, (lang, label)
    for other in LANGUAGES:
        if other != lang:
            assert KNOWN[other][0] not in doc.text  # no label of another language
    for key in (
        "section_headline",
        "section_comparison",
        "section_sites",
        "section_quality",
        "section_assumptions",
        "synthetic_title",
        "quality_poor",
    ):
        assert message(key, lang) in doc.text, key
    assert message("section_tradeoff", lang) not in doc.text  # no sweep ran


def test_report_holds_headline_comparison_sites_quality_and_assumptions():
    doc = parse(report("en"))
    text = doc.text
    assert "North Karelia: two points" in text and "Two joint points" in text
    # headline: scenario and baseline columns, full and any access
    at = text.index(message("head_full"))
    assert text[at + 1 : at + 4] == ["mean travel time (min)", "22.1", "8.9"]
    # comparison with the difference
    assert "Nearest joint service point: mean (min)" in text
    at = text.index("Nearest joint service point: mean (min)")
    assert text[at + 1 : at + 4] == ["22.1", "8.9", "+13.2"]
    at = text.index("Nearest joint service point: residents within 30 min")
    assert text[at + 1 : at + 4] == ["71.2%", "99.0%", "-27.8 pp"]
    at = text.index("Total annual cost (€/yr)")
    assert text[at + 1 : at + 4] == ["3,100,000", "3,900,000", "-800,000"]
    # chosen sites: full first, then remote by name; closed and unused not listed
    names = [
        t for t in text if t in ("Joensuu", "Kontiolahti", "Liperi", "Outokumpu", "Polvijärvi")
    ]
    assert list(dict.fromkeys(names)) == ["Joensuu", "Kontiolahti", "Liperi"]
    at = text.index("Kontiolahti")
    assert text[at + 1 : at + 5] == [
        message("tier_remote"),
        message("status_new"),
        "Kontiolahti",
        "100",
    ]
    assert text[text.index("Liperi") + 2] == message("status_kept")
    # a remote point where the baseline had a joint service point is converted, not kept
    sites = make_layers().sites
    sites.loc["s5", "baseline_role"] = "full"
    text = parse(report("en", sites=sites)).text
    assert text[text.index("Liperi") + 2] == message("status_converted")
    doc = parse(report("en"))
    text = doc.text
    # data quality and the cells at fault
    assert "1,234 residents live farther than 2,000 m from the road network." in text
    assert "Cells far from the roads: c1, c2" in text
    # assumptions with their sources
    at = text.index("agencies.kela.visits_per_resident")
    assert text[at + 1] == "Kela 2023"
    assert text[text.index("travel.speed") + 1] == message("no_source")


def test_report_without_baseline_or_sites_and_with_a_chart():
    layers = make_layers()
    none = layers.sites.assign(role="none")
    png = b"\x89PNG\r\n\x1a\nfake"
    page = report(baseline=None, sites=none, quality=Quality(), synthetic_layers=(), chart_png=png)
    doc = parse(page)
    assert message("section_comparison") not in doc.text
    assert message("no_sites") in doc.text
    assert message("quality_good") in doc.text and message("quality_poor") not in doc.text
    assert message("synthetic_title") not in doc.text
    assert message("section_tradeoff") in doc.text
    assert ("alt", message("chart_alt")) in doc.attrs
    assert ("src", "data:image/png;base64,iVBORw0KGgpmYWtl") in doc.attrs


def test_report_embeds_the_map_and_needs_no_other_file():
    layers = make_layers()
    m = map_solution(layers.cells, layers.sites, estimate=SCENARIO, baseline=BASELINE, title="t")
    vendor = ROOT / "data" / "vendor"
    page_map = map_html(m, assets="inline", asset_dir=vendor)
    page = report(map_page=page_map)
    doc = parse(page)
    assert doc.tags.count("iframe") == 1
    srcdoc = dict(doc.attrs)["srcdoc"]
    assert srcdoc == page_map  # the whole map, unchanged once unescaped
    outside = re.sub(r'srcdoc="[^"]*"', "", page)
    assert not re.search(r'\b(?:src|href)="(?!data:)', outside)  # nothing loaded from elsewhere
    assert "<script" not in outside


# --------------------------------------------------------------------------------------
# Safety and writing
# --------------------------------------------------------------------------------------


def test_user_strings_in_the_report_are_text():
    layers = make_layers(names=PAYLOADS)
    layers.sites["municipality"] = list(PAYLOADS)
    quality = Quality(is_poor=True, far_cells=PAYLOADS)
    page = report(
        title=PAYLOADS[0],
        description=PAYLOADS[1],
        sites=layers.sites,
        quality=quality,
        synthetic_layers=(PAYLOADS[2],),
        assumptions=[(PAYLOADS[3], PAYLOADS[4])],
    )
    for payload in PAYLOADS:
        assert payload not in page or payload.startswith("{")  # braces are plain text here
    doc = parse(page)
    assert set(doc.tags) <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "p",
        "div",
        "strong",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "ul",
        "li",
    }
    text = "\n".join(doc.text)
    for payload in PAYLOADS:
        assert payload in text  # shown literally
    assert doc.text.count(PAYLOADS[0]) >= 2  # <title> and <h1>
    # an escaped page escaped again would show entities: it is escaped exactly once
    assert "&amp;lt;" not in page
    assert html.unescape(re.search(r"<h1[^>]*>(.*?)</h1>", page).group(1)) == PAYLOADS[0]


def test_write_report_is_atomic(tmp_path):
    page = report()
    target = write_report(tmp_path / "run" / "report.html", page)
    assert target.read_text(encoding="utf-8") == page
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create the folder"):
        write_report(blocker / "report.html", page)


def test_comparison_rows_with_unreachable_figures():
    from dataclasses import replace

    worse = replace(SCENARIO, to_full=replace(SCENARIO.to_full, p99_minutes=float("inf")))
    rows = {r[0]: r[1:] for r in comparison_rows(worse, BASELINE, "fi")}
    label = "Lähin yhteinen palvelupiste: 99. persentiili (min)"
    assert rows[label] == ("ei saavutettavissa", "28,0", "+∞")

"""The server-side SVG charts: well-formed, accessible, escaped, counting what they are given, gaps for None."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from salespilot.server import charts

NS = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script>&'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label")
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox", ""))
    assert root.get("width") is None and root.get("height") is None  # sized by CSS through the viewBox
    assert "sp-chart" in root.get("class", "").split()
    title = root.find(f"{NS}title")
    assert title is not None and title.text == root.get("aria-label")
    assert next(iter(root)) is title
    assert "<script" not in svg
    return root


def by_class(root: ET.Element, cls: str, tag: str | None = None) -> list[ET.Element]:
    return [el for el in root.iter() if cls in el.get("class", "").split() and (tag is None or el.tag == f"{NS}{tag}")]


def polyline_points(el: ET.Element) -> list[tuple[float, float]]:
    pairs = [p.split(",") for p in el.get("points", "").split()]
    return [(float(x), float(y)) for x, y in pairs]


def all_texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter(f"{NS}text")]


# -- every chart ----------------------------------------------------------------------------------------------

CHARTS: dict[str, Callable[[str], str]] = {
    "sparkline": lambda text: charts.sparkline([1, 2, 3], text),
    "line": lambda text: charts.line([text, "b"], {text: [1, 2]}, text, reference=[1, 1]),
    "bars": lambda text: charts.bars([text, "b"], [1, 2], text, reference=[1, 1]),
    "funnel": lambda text: charts.funnel([(text, 10), ("b", 5)], text, rates=[text]),
    "heatmap": lambda text: charts.heatmap([text], [text, "M1"], [[1.0, 0.5]], text),
    "ranges": lambda text: charts.ranges([text], [1], [2], [3], text),
}


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_well_formed_and_every_text_escaped(kind: str) -> None:
    svg = CHARTS[kind](EVIL)
    root = parse(svg)
    assert f"sp-chart-{kind}" in root.get("class", "").split()
    assert root.get("aria-label") == EVIL  # round-trips through the escaping
    assert "&amp;" in svg and "&lt;script&gt;" in svg
    assert "<script>" not in svg


@pytest.mark.parametrize("kind", sorted(CHARTS))
def test_the_formatter_is_used_for_shown_numbers(kind: str) -> None:
    svg = {
        "sparkline": lambda: charts.sparkline([1, 2, 3], "s", fmt=lambda v: f"<{v}&>"),
        "line": lambda: charts.line(["a", "b"], {"s": [1, 2]}, "l", fmt=lambda v: f"<{v}&>"),
        "bars": lambda: charts.bars(["a", "b"], [1, 2], "b", fmt=lambda v: f"<{v}&>"),
        "funnel": lambda: charts.funnel([("a", 10), ("b", 5)], "f", fmt=lambda v: f"<{v}&>"),
        "heatmap": lambda: charts.heatmap(["a"], ["M0"], [[0.5]], "h", fmt=lambda v: f"<{v}&>"),
        "ranges": lambda: charts.ranges(["a"], [1], [2], [3], "r", fmt=lambda v: f"<{v}&>"),
    }[kind]()
    root = parse(svg)
    shown = [el.text or "" for el in root.iter() if el.tag in (f"{NS}text", f"{NS}title")]
    assert any(re.fullmatch(r"<[\d.]+&>", text) for text in shown)
    assert "&amp;&gt;" in svg


@pytest.mark.parametrize(
    "make",
    [
        lambda: charts.sparkline([], "Trend"),
        lambda: charts.sparkline([None, None], "Trend"),
        lambda: charts.line([], {}, "Trend"),
        lambda: charts.line(["a", "b"], {"s": [None, None]}, "Trend"),
        lambda: charts.bars([], [], "Trend"),
        lambda: charts.bars(["a"], [None], "Trend"),
        lambda: charts.funnel([], "Trend"),
        lambda: charts.heatmap([], [], [], "Trend"),
        lambda: charts.heatmap(["c1"], ["M0"], [[None]], "Trend"),
        lambda: charts.ranges([], [], [], [], "Trend"),
        lambda: charts.ranges(["a"], [None], [None], [None], "Trend"),
    ],
)
def test_empty_input_shows_the_empty_message(make: Callable[[], str]) -> None:
    root = parse(make())
    classes = root.get("class", "").split()
    assert "sp-chart-empty" in classes
    assert len([c for c in classes if c.startswith("sp-chart-")]) == 2  # its kind stays, for the CSS's sizes
    assert [el.text for el in by_class(root, "sp-empty")] == ["No data"]
    assert root.get("aria-label") == "Trend"


def test_the_empty_message_is_the_callers_and_escaped() -> None:
    svg = charts.bars([], [], "Pipeline", empty="Aucune donnée <ici> & là")
    root = parse(svg)
    assert [el.text for el in by_class(root, "sp-empty")] == ["Aucune donnée <ici> & là"]
    assert "&lt;ici&gt; &amp; là" in svg


def test_numbers_carry_their_raw_value() -> None:
    root = parse(charts.bars(["a", "b"], [1234.5, 7], "b", fmt=lambda v: f"{v:,.0f} €"))
    values = [el.get("data-value") for el in by_class(root, "sp-value")]
    assert values == ["1234.5", "7"]
    assert [el.text for el in by_class(root, "sp-value")] == ["1,234 €", "7 €"]


def test_nan_is_a_gap_like_none() -> None:
    root = parse(charts.bars(["a", "b"], [float("nan"), 2], "b"))
    assert len(by_class(root, "sp-bar")) == 1


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError, match="values"):
        charts.bars(["a", "b"], [1], "b")
    with pytest.raises(ValueError, match="series"):
        charts.line(["a", "b"], {"s": [1, 2, 3]}, "l")
    with pytest.raises(ValueError, match="rates"):
        charts.funnel([("a", 1), ("b", 1)], "f", rates=["1", "2"])
    with pytest.raises(ValueError, match="row 0"):
        charts.heatmap(["c"], ["M0"], [[0.1, 0.2]], "h")
    with pytest.raises(ValueError, match="highs"):
        charts.ranges(["a"], [1], [2], [], "r")


# -- sparkline ------------------------------------------------------------------------------------------------


def test_sparkline_one_polyline_and_a_dot_on_the_last_value() -> None:
    root = parse(charts.sparkline([3, 1, 4, 1, 5], "Trend"))
    lines = by_class(root, "sp-line", "polyline")
    assert len(lines) == 1
    points = polyline_points(lines[0])
    assert len(points) == 5
    dots = by_class(root, "sp-dot")
    assert len(dots) == 1 and dots[0].get("data-value") == "5"
    assert (float(dots[0].get("cx", "")), float(dots[0].get("cy", ""))) == points[-1]
    # Higher values are higher up: a smaller y.
    assert points[4][1] < points[2][1] < points[0][1] < points[1][1]
    assert root.get("viewBox") == "0 0 120 32"


def test_sparkline_none_splits_the_line() -> None:
    root = parse(charts.sparkline([1, 2, None, 4, 5, None, 7, None], "Trend"))
    lines = by_class(root, "sp-line", "polyline")
    assert [len(polyline_points(el)) for el in lines] == [2, 2]
    # The lone 7 is not on any line: it is the last value, so the dot shows it.
    dots = by_class(root, "sp-dot")
    assert [d.get("data-value") for d in dots] == ["7"]
    # Every value is drawn once: on a line, as a lone point, or as the last value's dot.
    shown = sum(len(polyline_points(el)) for el in lines) + len(by_class(root, "sp-point")) + len(dots)
    assert shown == 5


def test_sparkline_isolated_values_are_points() -> None:
    root = parse(charts.sparkline([1, None, 3, None, 5, 6], "Trend"))
    assert [el.get("data-value") for el in by_class(root, "sp-point")] == ["1", "3"]
    assert len(by_class(root, "sp-line", "polyline")) == 1


def test_sparkline_of_a_constant_and_of_a_single_value() -> None:
    root = parse(charts.sparkline([2, 2, 2], "Flat"))
    ys = {y for _, y in polyline_points(by_class(root, "sp-line")[0])}
    assert len(ys) == 1
    root = parse(charts.sparkline([None, 9], "One"))
    assert not by_class(root, "sp-line")
    assert [d.get("data-value") for d in by_class(root, "sp-dot")] == ["9"]


# -- line -----------------------------------------------------------------------------------------------------


def test_line_points_series_legend_and_reference() -> None:
    labels = ["Jan", "Feb", "Mar", "Apr"]
    series = {"Won": [10, 20, None, 40], "Lost": [5, 5, 5, 5]}
    root = parse(charts.line(labels, series, "Revenue", fmt=lambda v: f"{v:g} €", reference=[30, 30, None, 30]))
    groups = by_class(root, "sp-series", "g")
    assert [g.get("data-series") for g in groups] == ["Won", "Lost"]
    assert "sp-series-0" in groups[0].get("class", "") and "sp-series-1" in groups[1].get("class", "")
    won = by_class(groups[0], "sp-point")
    assert [p.get("data-value") for p in won] == ["10", "20", "40"]  # None is no point
    assert [p.get("data-label") for p in won] == ["Jan", "Feb", "Apr"]
    # The None splits Won's line: a two-point line and a lone point.
    assert [len(polyline_points(el)) for el in by_class(groups[0], "sp-line")] == [2]
    assert [len(polyline_points(el)) for el in by_class(groups[1], "sp-line")] == [4]
    assert len(by_class(root, "sp-point")) == 7
    ref = by_class(root, "sp-ref", "polyline")
    assert len(ref) == 1 and ref[0].get("stroke-dasharray")
    assert [p.get("data-value") for p in by_class(root, "sp-ref-point")] == ["30", "30", "30"]
    legend = [el.text for el in by_class(root, "sp-legend-label")]
    assert legend == ["Won", "Lost", "Target"]
    assert [el.text for el in by_class(root, "sp-x-label")] == labels
    # Higher is up: Apr's 40 sits above Jan's 10.
    assert float(won[2].get("cy", "")) < float(won[0].get("cy", ""))


def test_line_y_ticks_are_nice_numbers_covering_the_data() -> None:
    root = parse(charts.line(["a", "b", "c"], {"s": [120, 980, 1234]}, "l"))
    ticks = [float(el.get("data-value", "")) for el in by_class(root, "sp-y-label")]
    assert ticks == [0, 500, 1000, 1500]
    assert [el.text for el in by_class(root, "sp-y-label")] == ["0", "500", "1000", "1500"]
    root = parse(charts.line(["a", "b"], {"s": [0.12, 0.37]}, "l"))
    assert [float(el.get("data-value", "")) for el in by_class(root, "sp-y-label")] == [0, 0.1, 0.2, 0.3, 0.4]


def test_line_negative_values_get_a_zero_line() -> None:
    root = parse(charts.line(["a", "b"], {"s": [-5, 12]}, "l"))
    ticks = [float(el.get("data-value", "")) for el in by_class(root, "sp-y-label")]
    assert ticks[0] <= -5 and ticks[-1] >= 12
    assert len(by_class(root, "sp-zero")) == 1


def test_line_thins_many_x_labels() -> None:
    labels = [f"Week {i}" for i in range(52)]
    root = parse(charts.line(labels, {"s": list(range(52))}, "l"))
    shown = [el.text for el in by_class(root, "sp-x-label")]
    assert 2 <= len(shown) < 20
    assert shown[0] == "Week 0"
    assert len(by_class(root, "sp-point")) == 52


# -- bars -----------------------------------------------------------------------------------------------------


def test_bars_count_scale_reference_and_highlight() -> None:
    labels = ["Alice", "Bob", "Chloé", "Dan"]
    values = [120.0, 340.0, None, 80.0]
    root = parse(
        charts.bars(
            labels, values, "Won by rep", reference=[200, 200, 200, None], highlight=[False, False, False, True]
        )
    )
    bars = by_class(root, "sp-bar", "rect")
    assert [b.get("data-value") for b in bars] == ["120", "340", "80"]  # None is no bar, not a zero bar
    widths = [float(b.get("width", "")) for b in bars]
    assert widths.index(max(widths)) == 1  # the longest bar is the largest value
    assert widths[0] / widths[1] == pytest.approx(120 / 340, rel=1e-3)
    assert [b.get("data-label") for b in by_class(root, "sp-bar-alert")] == ["Dan"]
    assert [t.get("data-value") for t in by_class(root, "sp-ref", "line")] == ["200", "200", "200"]
    assert [el.text for el in by_class(root, "sp-label")] == labels
    assert [el.text for el in by_class(root, "sp-value")] == ["120", "340", "–", "80"]
    assert len(by_class(root, "sp-missing")) == 1


def test_bars_reference_beyond_the_largest_bar_stays_inside() -> None:
    root = parse(charts.bars(["a"], [10], "b", reference=[40]))
    bar = by_class(root, "sp-bar")[0]
    tick = by_class(root, "sp-ref")[0]
    assert float(tick.get("x1", "")) > float(bar.get("x", "")) + float(bar.get("width", ""))
    width = float(root.get("viewBox", "").split()[2])
    assert float(tick.get("x1", "")) < width


def test_bars_negative_values_extend_left_of_zero() -> None:
    root = parse(charts.bars(["up", "down"], [30, -10], "Growth"))
    up, down = by_class(root, "sp-bar")
    zero = float(by_class(root, "sp-zero")[0].get("x1", ""))
    assert float(up.get("x", "")) == pytest.approx(zero)
    assert float(down.get("x", "")) + float(down.get("width", "")) == pytest.approx(zero)
    assert float(up.get("width", "")) == pytest.approx(3 * float(down.get("width", "")), rel=1e-3)


# -- funnel ---------------------------------------------------------------------------------------------------


def test_funnel_widths_decrease_with_volumes_and_rates_sit_between() -> None:
    steps = [("Calls", 1000.0), ("Leads", 400.0), ("Opportunities", 120.0), ("Signatures", 30.0)]
    root = parse(charts.funnel(steps, "Funnel", rates=["40%", "30%", "25%"]))
    bars = by_class(root, "sp-funnel-step", "rect")
    assert [b.get("data-value") for b in bars] == ["1000", "400", "120", "30"]
    widths = [float(b.get("width", "")) for b in bars]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 4
    assert widths[1] / widths[0] == pytest.approx(0.4, rel=1e-3)
    centres = [float(b.get("x", "")) + float(b.get("width", "")) / 2 for b in bars]
    assert centres == pytest.approx([centres[0]] * 4, abs=0.02)  # centred
    rates = by_class(root, "sp-rate")
    assert [r.text for r in rates] == ["40%", "30%", "25%"]
    assert [float(r.get("data-value", "")) for r in rates] == pytest.approx([0.4, 0.3, 0.25])
    ys = [float(b.get("y", "")) for b in bars]
    for rate, above, below in zip(rates, ys, ys[1:], strict=False):
        assert above < float(rate.get("y", "")) < below + 28
    assert [el.text for el in by_class(root, "sp-value")] == ["1000", "400", "120", "30"]
    assert len(by_class(root, "sp-funnel-link")) == 3


def test_funnel_without_rates_and_with_a_zero_step() -> None:
    root = parse(charts.funnel([("Calls", 10), ("Leads", 0)], "Funnel"))
    assert not by_class(root, "sp-rate")
    assert [float(b.get("width", "")) for b in by_class(root, "sp-funnel-step")][1] == 0


# -- heatmap --------------------------------------------------------------------------------------------------


def test_heatmap_cells_buckets_and_blanks() -> None:
    rows = ["2026-01", "2026-02", "2026-03"]
    cols = ["M0", "M1", "M2"]
    values = [[1.0, 0.55, 0.0], [1.0, None, 0.31], [0.95]]  # the youngest cohort's row is short
    root = parse(charts.heatmap(rows, cols, values, "Retention", fmt=lambda v: f"{v:.0%}"))
    cells = by_class(root, "sp-cell", "rect")
    assert len(cells) == 9
    filled = [c for c in cells if c.get("data-value") is not None]
    assert len(filled) == 6
    assert len(by_class(root, "sp-cell-empty")) == 3
    assert all(c.get("data-value") is None for c in by_class(root, "sp-cell-empty"))

    def bucket(cell: ET.Element) -> str:
        return next(c for c in cell.get("class", "").split() if c.startswith("sp-heat-"))

    assert [bucket(c) for c in filled] == ["sp-heat-9", "sp-heat-5", "sp-heat-0", "sp-heat-9", "sp-heat-3", "sp-heat-9"]
    texts = by_class(root, "sp-cell-value")
    assert [t.text for t in texts] == ["100%", "55%", "0%", "100%", "31%", "95%"]
    assert [t.get("data-value") for t in texts] == ["1", "0.55", "0", "1", "0.31", "0.95"]
    assert len(by_class(root, "sp-on-dark")) == 3
    labels = [el.text for el in by_class(root, "sp-label")]
    assert labels == cols + rows


def test_heat_bucket_edges() -> None:
    assert charts.heat_bucket(0.0) == 0
    assert charts.heat_bucket(0.0999) == 0
    assert charts.heat_bucket(0.1) == 1
    assert charts.heat_bucket(0.3) == 3
    assert charts.heat_bucket(0.7) == 7
    assert charts.heat_bucket(0.9) == 9
    assert charts.heat_bucket(1.0) == 9
    assert charts.heat_bucket(1.4) == 9
    assert charts.heat_bucket(-0.2) == 0


# -- ranges ---------------------------------------------------------------------------------------------------


def test_ranges_bar_from_low_to_high_and_a_mark_at_mid() -> None:
    labels = ["Discovery", "Proposal", "Negotiation"]
    root = parse(
        charts.ranges(labels, [3, 8, None], [7, 12, 20], [15, 40, None], "Stage days", fmt=lambda v: f"{v:g} d")
    )
    bars = by_class(root, "sp-range", "rect")
    assert [(b.get("data-low"), b.get("data-high")) for b in bars] == [("3", "15"), ("8", "40")]
    mids = by_class(root, "sp-range-mid")
    assert [m.get("data-value") for m in mids] == ["7", "12", "20"]
    for bar, mid in zip(bars, mids, strict=False):
        x = float(mid.get("x1", ""))
        assert float(bar.get("x", "")) < x < float(bar.get("x", "")) + float(bar.get("width", ""))
    widths = [float(b.get("width", "")) for b in bars]
    assert widths[1] > widths[0]  # 32 days of spread against 12
    assert [el.text for el in by_class(root, "sp-value")] == ["7 d", "12 d", "20 d"]
    ticks = [float(el.get("data-value", "")) for el in by_class(root, "sp-x-label")]
    assert ticks[0] == 0 and ticks[-1] >= 40


def test_long_labels_are_truncated_with_the_full_text_in_the_title() -> None:
    name = "A very long representative name that will not fit in the label column at all " * 2
    root = parse(charts.bars([name], [1], "b", width=400))
    shown = by_class(root, "sp-label")[0].text or ""
    assert shown.endswith("…") and len(shown) < len(name)
    titles = [el.text or "" for el in root.iter(f"{NS}title")]
    assert any(name in t for t in titles)


def test_control_characters_do_not_break_the_xml() -> None:
    parse(charts.bars(["a\x00b\x1f"], [1], "x\x07y"))

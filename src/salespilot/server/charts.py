"""Server-side SVG charts of the dashboard: no JavaScript, no external asset, one ``<svg>`` string each.

Every chart is a complete ``<svg>`` element with ``role="img"``, an ``aria-label`` and a ``<title>`` (the
``label`` argument), sized only by its ``viewBox`` so that CSS (``.sp-chart { width: 100%; height: auto }``)
scales it. Every text is escaped; numbers shown are formatted by the ``fmt`` callable passed in (for instance
``functools.partial(formats.money, lang="fr")``), and every element that shows a number carries
``data-value="<raw number>"`` for browser tests. A ``None`` (or NaN) value is a gap, never a zero. Input
without any value gives a small svg with the ``empty`` text ("No data" unless told).

Colours are left to CSS. Shapes are painted with ``currentColor`` as a fallback (``fill="currentColor"`` or
``stroke="currentColor"`` presentation attributes, which any CSS rule overrides), so a stylesheet can colour
a class either with ``color:`` or with ``fill:`` / ``stroke:``. The layout assumes text of about 12px
(``font-size="12"`` on the root). The classes used:

==========================  ==========================================================================
class                       element
==========================  ==========================================================================
``sp-chart``                the root ``<svg>`` of every chart, with ``sp-chart-<kind>``: ``sp-chart-sparkline``,
                            ``sp-chart-line``, ``sp-chart-bars``, ``sp-chart-funnel``, ``sp-chart-heatmap``,
                            ``sp-chart-ranges``, and also ``sp-chart-empty`` on a no-data svg
``sp-empty``                the no-data text
``sp-line``                 a polyline of a series (sparkline, line chart); ``fill="none"``
``sp-point``                a data point (circle) of a line chart, or an isolated value of a sparkline
``sp-dot``                  the dot on the last value of a sparkline
``sp-series``               the ``<g>`` of one series of a line chart, with ``sp-series-0`` .. ``sp-series-7``
                            (the series' index modulo 8: its colour); the legend swatch has the same class
``sp-legend``               the legend ``<g>``; ``sp-legend-item``, ``sp-swatch``, ``sp-legend-label`` inside
``sp-ref``                  a reference or target: the dashed line of a line chart, the tick on a bar
``sp-ref-point``            a point of the reference line of a line chart (small circle, carries data-value)
``sp-axis``                 an axis line; ``sp-zero`` also on the zero line when the scale crosses zero
``sp-grid``                 a horizontal (line chart) or vertical (ranges) grid line at a tick
``sp-axis-label``           a tick label, with ``sp-x-label`` or ``sp-y-label``
``sp-label``                a category label (bars, funnel, ranges, heatmap rows and columns)
``sp-value``                a value label beside a bar, a funnel step or a range; ``sp-missing`` when "–"
``sp-bar``                  a bar (bars, funnel); ``sp-bar-alert`` also on a highlighted bar
``sp-funnel-step``          a funnel bar (with ``sp-bar``); ``sp-funnel-link`` the band between two steps
``sp-rate``                 the conversion text between two funnel steps
``sp-cell``                 a heatmap cell, with ``sp-heat-0`` .. ``sp-heat-9`` (value 0-0.1 .. 0.9-1.0;
                            0.0 is ``sp-heat-0``, 1.0 is ``sp-heat-9``) or ``sp-cell-empty`` for None
``sp-cell-value``           the value text in a heatmap cell, with ``sp-on-dark`` from bucket 6 up
``sp-range``                the low-to-high bar of a distribution; ``sp-range-mid`` the mark at its middle
==========================  ==========================================================================
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

__all__ = ["Fmt", "bars", "funnel", "heat_bucket", "heatmap", "line", "plain", "ranges", "sparkline"]

Fmt = Callable[[float], str]

FONT_SIZE: Final = 12
_CHAR_WIDTH: Final = 0.6 * FONT_SIZE  # an average glyph's advance, to lay out labels without a font
_SERIES_COLOURS: Final = 8
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def plain(value: float) -> str:
    """The default formatter: at most two decimals, no trailing zeros, no "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# -- building blocks ------------------------------------------------------------------------------------------


def _esc(text: object) -> str:
    return html.escape(_NOT_XML.sub("", str(text)), quote=True)


def _n(x: float) -> str:
    """A coordinate, short."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _raw(value: float) -> str:
    """The raw number of a data-value attribute."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _attrs(attrs: Mapping[str, object | None]) -> str:
    parts = []
    for key, val in attrs.items():
        if val is None:
            continue
        text = _n(val) if isinstance(val, float) else str(val)
        parts.append(f' {key}="{_esc(text)}"')
    return "".join(parts)


def _el(tag: str, attrs: Mapping[str, object | None], children: str = "") -> str:
    if children:
        return f"<{tag}{_attrs(attrs)}>{children}</{tag}>"
    return f"<{tag}{_attrs(attrs)}/>"


def _title(text: str) -> str:
    return f"<title>{_esc(text)}</title>"


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start", **extra: object | None) -> str:
    attrs: dict[str, object | None] = {"class": cls, "x": x, "y": y, "text-anchor": anchor}
    attrs.update({key.replace("_", "-"): val for key, val in extra.items()})
    return f"<text{_attrs(attrs)}>{_esc(text)}</text>"


def _svg(kind: str, width: float, height: float, label: str, body: Iterable[str]) -> str:
    attrs = {
        "xmlns": "http://www.w3.org/2000/svg",
        "viewBox": f"0 0 {_n(width)} {_n(height)}",
        "class": f"sp-chart sp-chart-{kind}",
        "role": "img",
        "aria-label": label,
        "font-size": FONT_SIZE,
    }
    return f"<svg{_attrs(attrs)}>{_title(label)}{''.join(body)}</svg>"


def _empty(kind: str, label: str, empty: str, width: float = 640, height: float = 60) -> str:
    text = _text(width / 2, height / 2 + FONT_SIZE / 3, empty, "sp-empty", "middle")
    return _svg(f"{kind} sp-chart-empty", width, height, label, [text])


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _cleaned(values: Sequence[float | None]) -> list[float | None]:
    return [_clean(v) for v in values]


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _check_length(name: str, values: Sequence[object], expected: int) -> None:
    if len(values) != expected:
        raise ValueError(f"{name} has {len(values)} values for {expected} labels")


def _text_width(text: str) -> float:
    return len(text) * _CHAR_WIDTH


def _truncate(text: str, width: float) -> str:
    if _text_width(text) <= width + 0.01:
        return text
    chars = max(1, int(width / _CHAR_WIDTH + 0.01))
    return text[: max(1, chars - 1)] + "…"


def _nice_step(raw: float) -> float:
    power = 10.0 ** math.floor(math.log10(raw))
    fraction = raw / power
    for nice in (1.0, 2.0, 2.5, 5.0):
        if fraction <= nice + 1e-9:
            return nice * power
    return 10.0 * power


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) that cover lo..hi."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = (lo - pad, hi + pad) if lo != 0 else (0.0, 1.0)
    step = _nice_step((hi - lo) / max(1, count - 1))
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return [round(i * step, digits) + 0.0 for i in range(first, last + 1)]


class _Scale:
    """A linear map from a domain to a pixel range."""

    def __init__(self, d0: float, d1: float, r0: float, r1: float) -> None:
        if d1 == d0:
            d1 = d0 + 1
        self.d0, self.d1, self.r0, self.r1 = d0, d1, r0, r1

    def __call__(self, value: float) -> float:
        return self.r0 + (value - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)


def _runs(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """The unbroken stretches of a series: a None splits it."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for point in points:
        if point is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(point)
    if current:
        runs.append(current)
    return runs


def _polyline(run: Sequence[tuple[float, float]], cls: str, **extra: object | None) -> str:
    attrs: dict[str, object | None] = {
        "class": cls,
        "points": " ".join(f"{_n(x)},{_n(y)}" for x, y in run),
        "fill": "none",
        "stroke": "currentColor",
    }
    attrs.update({key.replace("_", "-"): val for key, val in extra.items()})
    return _el("polyline", attrs)


def _xs(count: int, x0: float, x1: float) -> list[float]:
    if count == 1:
        return [(x0 + x1) / 2]
    return [x0 + i * (x1 - x0) / (count - 1) for i in range(count)]


# -- charts ---------------------------------------------------------------------------------------------------


def sparkline(
    values: Sequence[float | None],
    label: str,
    width: float = 120,
    height: float = 32,
    *,
    fmt: Fmt = plain,
    empty: str = "No data",
) -> str:
    """A small trend line: one polyline per unbroken stretch, and a dot on the last value."""
    cleaned = _cleaned(values)
    present = _present(cleaned)
    if not present:
        return _empty("sparkline", label, empty, width, height)
    pad = 3.0
    lo, hi = min(present), max(present)
    y = _Scale(lo, hi, height - pad, pad) if hi > lo else _Scale(lo - 1, lo + 1, height - pad, pad)
    xs = _xs(len(cleaned), pad, width - pad)
    points = [None if v is None else (xs[i], y(v)) for i, v in enumerate(cleaned)]
    body: list[str] = []
    for run in _runs(points):
        if len(run) > 1:
            body.append(_polyline(run, "sp-line"))
    last = max(i for i, v in enumerate(cleaned) if v is not None)
    for i, (v, point) in enumerate(zip(cleaned, points, strict=True)):
        if v is None or point is None:
            continue
        isolated = (i == 0 or cleaned[i - 1] is None) and (i == len(cleaned) - 1 or cleaned[i + 1] is None)
        if i == last:
            attrs = {"class": "sp-dot", "cx": point[0], "cy": point[1], "r": 2.5, "fill": "currentColor"}
            body.append(_el("circle", {**attrs, "data-value": _raw(v)}, _title(fmt(v))))
        elif isolated:
            attrs = {"class": "sp-point", "cx": point[0], "cy": point[1], "r": 1.5, "fill": "currentColor"}
            body.append(_el("circle", {**attrs, "data-value": _raw(v)}, _title(fmt(v))))
    return _svg("sparkline", width, height, label, body)


def _legend(items: Sequence[tuple[str, str]], x0: float, x1: float) -> tuple[str, float]:
    """Legend items (kind, name) laid out in rows from x0 to x1; returns the svg and its height."""
    parts: list[str] = []
    x, y, row = x0, 12.0, 18.0
    for index, (cls, name) in enumerate(items):
        item_width = 18 + _text_width(name) + 14
        if x > x0 and x + item_width > x1:
            x, y = x0, y + row
        if cls == "sp-ref":
            swatch = _el(
                "line",
                {"class": "sp-ref", "x1": x, "x2": x + 12, "y1": y - 4, "y2": y - 4, "stroke": "currentColor"}
                | {"stroke-dasharray": "4 3"},
            )
        else:
            swatch = _el(
                "rect",
                {"class": f"sp-swatch {cls}", "x": x, "y": y - 9, "width": 12, "height": 10, "fill": "currentColor"},
            )
        text = _text(x + 18, y, name, "sp-legend-label")
        parts.append(_el("g", {"class": "sp-legend-item", "data-index": index}, swatch + text))
        x += item_width
    return _el("g", {"class": "sp-legend"}, "".join(parts)), y + 8


def line(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    label: str,
    fmt: Fmt = plain,
    reference: Sequence[float | None] | None = None,
    *,
    reference_label: str = "Target",
    width: float = 640,
    height: float = 260,
    empty: str = "No data",
) -> str:
    """A multi-series line chart over the x labels, with y ticks, a legend and an optional dashed reference."""
    for name, values in series.items():
        _check_length(f"series {name!r}", values, len(labels))
    if reference is not None:
        _check_length("reference", reference, len(labels))
    cleaned = {name: _cleaned(values) for name, values in series.items()}
    ref = _cleaned(reference) if reference is not None else None
    present = [v for values in cleaned.values() for v in _present(values)]
    if not labels or not present:
        return _empty("line", label, empty, width)
    every = present + (_present(ref) if ref is not None else [])
    ticks = _nice_ticks(min(0.0, *every), max(0.0, *every))
    tick_texts = [fmt(t) for t in ticks]

    left = max(36.0, max(_text_width(t) for t in tick_texts) + 12)
    right = 24.0
    items = [(f"sp-series-{i % _SERIES_COLOURS}", name) for i, name in enumerate(cleaned)]
    if ref is not None:
        items.append(("sp-ref", reference_label))
    legend, legend_height = _legend(items, left, width - right)
    top, bottom = legend_height + 8, 24.0
    x0, x1, y0, y1 = left + 8, width - right, top, height - bottom
    y = _Scale(ticks[0], ticks[-1], y1, y0)
    xs = _xs(len(labels), x0, x1)

    body = [legend]
    for tick, text in zip(ticks, tick_texts, strict=True):
        ty = y(tick)
        body.append(_el("line", {"class": "sp-grid", "x1": left, "x2": x1, "y1": ty, "y2": ty}))
        body.append(_text(left - 6, ty + 4, text, "sp-axis-label sp-y-label", "end", data_value=_raw(tick)))
    body.append(_el("line", {"class": "sp-axis", "x1": left, "x2": x1, "y1": y1, "y2": y1, "stroke": "currentColor"}))
    if ticks[0] < 0 < ticks[-1]:
        zero = {"class": "sp-axis sp-zero", "x1": left, "x2": x1, "y1": y(0), "y2": y(0), "stroke": "currentColor"}
        body.append(_el("line", zero))

    label_room = max(_text_width(text) for text in labels) + 10
    step = max(1, math.ceil(len(labels) / max(1, int((x1 - x0 + label_room) / label_room))))
    for i, text in enumerate(labels):
        if i % step == 0:
            body.append(_text(xs[i], y1 + 16, text, "sp-axis-label sp-x-label", "middle", data_index=i))

    if ref is not None:
        points = [None if v is None else (xs[i], y(v)) for i, v in enumerate(ref)]
        parts = [_polyline(run, "sp-ref", stroke_dasharray="6 4") for run in _runs(points) if len(run) > 1]
        for i, (v, point) in enumerate(zip(ref, points, strict=True)):
            if v is None or point is None:
                continue
            attrs = {"class": "sp-ref-point", "cx": point[0], "cy": point[1], "r": 2, "fill": "currentColor"}
            tip = _title(f"{reference_label} · {labels[i]}: {fmt(v)}")
            parts.append(_el("circle", {**attrs, "data-value": _raw(v), "data-label": labels[i]}, tip))
        body.append(_el("g", {"class": "sp-reference"}, "".join(parts)))

    for index, (name, values) in enumerate(cleaned.items()):
        points = [None if v is None else (xs[i], y(v)) for i, v in enumerate(values)]
        parts = [_polyline(run, "sp-line") for run in _runs(points) if len(run) > 1]
        for i, (v, point) in enumerate(zip(values, points, strict=True)):
            if v is None or point is None:
                continue
            attrs = {"class": "sp-point", "cx": point[0], "cy": point[1], "r": 3, "fill": "currentColor"}
            extra = {"data-value": _raw(v), "data-series": name, "data-label": labels[i]}
            parts.append(_el("circle", attrs | extra, _title(f"{name} · {labels[i]}: {fmt(v)}")))
        group = {"class": f"sp-series sp-series-{index % _SERIES_COLOURS}", "data-series": name}
        body.append(_el("g", group, "".join(parts)))
    return _svg("line", width, height, label, body)


def _columns(labels: Sequence[str], value_texts: Sequence[str], width: float) -> tuple[float, float, float]:
    """The x where the plot starts and ends, and the label width, for rows of label | plot | value."""
    label_width = min(max((_text_width(t) for t in labels), default=0.0), width * 0.35)
    value_width = max(40.0, max((_text_width(t) for t in value_texts), default=0.0))
    return label_width + 12, width - value_width - 12, label_width


def bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    label: str,
    fmt: Fmt = plain,
    reference: Sequence[float | None] | None = None,
    highlight: Sequence[bool] | None = None,
    *,
    reference_label: str = "Reference",
    width: float = 640,
    empty: str = "No data",
) -> str:
    """Horizontal bars with their value labels; a reference tick per bar; highlighted bars get sp-bar-alert."""
    _check_length("values", values, len(labels))
    if reference is not None:
        _check_length("reference", reference, len(labels))
    if highlight is not None:
        _check_length("highlight", highlight, len(labels))
    cleaned = _cleaned(values)
    ref = _cleaned(reference) if reference is not None else [None] * len(labels)
    present = _present(cleaned)
    if not present:
        return _empty("bars", label, empty, width)
    every = present + _present(ref)
    lo, hi = min(0.0, *every), max(0.0, *every)
    texts = ["–" if v is None else fmt(v) for v in cleaned]
    x0, x1, label_width = _columns(labels, texts, width)
    x = _Scale(lo, hi, x0, x1)
    bar_height, pitch, top = 20.0, 28.0, 6.0
    height = top * 2 + pitch * len(labels) - (pitch - bar_height)

    body: list[str] = []
    for i, name in enumerate(labels):
        v, r, text = cleaned[i], ref[i], texts[i]
        by = top + i * pitch
        mid = by + bar_height / 2 + FONT_SIZE / 3
        tip = f"{name}: {text}" + ("" if r is None else f" ({reference_label}: {fmt(r)})")
        parts = [_title(tip), _text(x0 - 8, mid, _truncate(name, label_width), "sp-label", "end")]
        if v is not None:
            alert = highlight is not None and highlight[i]
            cls = "sp-bar sp-bar-alert" if alert else "sp-bar"
            start, end = sorted((x(0), x(v)))
            rect = {"class": cls, "x": start, "y": by, "width": end - start, "height": bar_height}
            parts.append(_el("rect", rect | {"fill": "currentColor", "data-value": _raw(v), "data-label": name}))
            parts.append(_text(x1 + 8, mid, text, "sp-value", data_value=_raw(v)))
        else:
            parts.append(_text(x1 + 8, mid, text, "sp-value sp-missing"))
        if r is not None:
            tick = {"class": "sp-ref", "x1": x(r), "x2": x(r), "y1": by - 3, "y2": by + bar_height + 3}
            parts.append(_el("line", tick | {"stroke": "currentColor", "stroke-width": 2, "data-value": _raw(r)}))
        body.append(_el("g", {"class": "sp-row", "data-label": name}, "".join(parts)))
    if lo < 0:
        axis = {"class": "sp-axis sp-zero", "x1": x(0), "x2": x(0), "y1": top - 4, "y2": height - top + 4}
        body.append(_el("line", axis | {"stroke": "currentColor"}))
    return _svg("bars", width, height, label, body)


def funnel(
    steps: Sequence[tuple[str, float | None]],
    label: str,
    fmt: Fmt = plain,
    rates: Sequence[str] | None = None,
    *,
    width: float = 640,
    empty: str = "No data",
) -> str:
    """A funnel: centred bars as wide as their volume, the volume beside, the conversion text between steps."""
    if rates is not None and len(rates) != max(0, len(steps) - 1):
        raise ValueError(f"rates has {len(rates)} texts for {len(steps)} steps: expected one between each two")
    names = [name for name, _ in steps]
    volumes = [_clean(v) for _, v in steps]
    present = _present(volumes)
    if not present:
        return _empty("funnel", label, empty, width)
    texts = ["–" if v is None else fmt(v) for v in volumes]
    x0, x1, label_width = _columns(names, texts, width)
    centre, top_volume = (x0 + x1) / 2, max(max(present), 0.0)
    bar_height, gap, top = 28.0, (22.0 if rates is not None else 8.0), 6.0
    height = top * 2 + bar_height * len(steps) + gap * (len(steps) - 1)

    def half(volume: float | None) -> float:
        if volume is None or top_volume <= 0:
            return 0.0
        return max(0.0, volume) / top_volume * (x1 - x0) / 2

    body: list[str] = []
    for i, (name, v) in enumerate(zip(names, volumes, strict=True)):
        by = top + i * (bar_height + gap)
        mid = by + bar_height / 2 + FONT_SIZE / 3
        if i > 0 and volumes[i - 1] is not None and v is not None:
            above, below, link_top = half(volumes[i - 1]), half(v), by - gap
            corners = [
                (centre - above, link_top),
                (centre + above, link_top),
                (centre + below, by),
                (centre - below, by),
            ]
            polygon = {"class": "sp-funnel-link", "points": " ".join(f"{_n(px)},{_n(py)}" for px, py in corners)}
            body.append(_el("polygon", polygon | {"fill": "currentColor", "fill-opacity": 0.15}))
        if i > 0 and rates is not None:
            previous = volumes[i - 1]
            ratio = v / previous if v is not None and previous else None
            rate_y = by - gap / 2 + FONT_SIZE / 3
            body.append(
                _text(
                    centre, rate_y, rates[i - 1], "sp-rate", "middle", data_value=None if ratio is None else _raw(ratio)
                )
            )
        parts = [_title(f"{name}: {texts[i]}"), _text(x0 - 8, mid, _truncate(name, label_width), "sp-label", "end")]
        if v is not None:
            w = half(v)
            rect = {"class": "sp-bar sp-funnel-step", "x": centre - w, "y": by, "width": 2 * w, "height": bar_height}
            parts.append(_el("rect", rect | {"fill": "currentColor", "data-value": _raw(v), "data-label": name}))
            parts.append(_text(x1 + 8, mid, texts[i], "sp-value", data_value=_raw(v)))
        else:
            parts.append(_text(x1 + 8, mid, texts[i], "sp-value sp-missing"))
        body.append(_el("g", {"class": "sp-step", "data-label": name}, "".join(parts)))
    return _svg("funnel", width, height, label, body)


def heat_bucket(value: float) -> int:
    """The shade class of a heatmap value, 0 for 0.0-0.1 up to 9 for 0.9-1.0 (values outside are clamped)."""
    return min(9, max(0, math.floor(value * 10 + 1e-9)))


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    label: str,
    fmt: Fmt = plain,
    *,
    width: float = 640,
    empty: str = "No data",
) -> str:
    """A cohort retention heatmap: one row per cohort, cells shaded by their fraction (sp-heat-0..9).

    A row may be shorter than the columns (a young cohort): its missing cells are blank, like None.
    The cells share ``width``; with many columns, each keeps room for its text and the chart gets wider.
    """
    _check_length("values", values, len(row_labels))
    for index, row in enumerate(values):
        if len(row) > len(col_labels):
            raise ValueError(f"row {index} has {len(row)} values for {len(col_labels)} columns")
    grid = [[_clean(row[j]) if j < len(row) else None for j in range(len(col_labels))] for row in values]
    if not col_labels or not any(v is not None for row in grid for v in row):
        return _empty("heatmap", label, empty, width)
    texts = [[None if v is None else fmt(v) for v in row] for row in grid]
    widest = max([_text_width(t) for row in texts for t in row if t is not None] + [_text_width(c) for c in col_labels])
    left = min(max(_text_width(r) for r in row_labels), 200.0) + 12
    cell_width, cell_height, gap = max(40.0, widest + 10, (width - left - 4) / len(col_labels)), 24.0, 2.0
    top = 22.0
    width = left + len(col_labels) * cell_width + 4
    height = top + len(row_labels) * cell_height + 4

    body: list[str] = []
    for j, col in enumerate(col_labels):
        body.append(_text(left + (j + 0.5) * cell_width, top - 8, col, "sp-label sp-col-label", "middle"))
    for i, row_label in enumerate(row_labels):
        cy = top + i * cell_height
        body.append(
            _text(left - 8, cy + cell_height / 2 + FONT_SIZE / 3, _truncate(row_label, left - 12), "sp-label", "end")
        )
        for j, col in enumerate(col_labels):
            v, text = grid[i][j], texts[i][j]
            cell = {"x": left + j * cell_width, "y": cy, "width": cell_width - gap, "height": cell_height - gap}
            where = {"data-row": row_label, "data-col": col}
            if v is None or text is None:
                body.append(_el("rect", {"class": "sp-cell sp-cell-empty", **cell, "fill": "none"} | where))
                continue
            bucket = heat_bucket(v)
            rect = {"class": f"sp-cell sp-heat-{bucket}", **cell, "data-value": _raw(v)} | where
            body.append(_el("rect", rect, _title(f"{row_label} · {col}: {text}")))
            cls = "sp-cell-value sp-on-dark" if bucket >= 6 else "sp-cell-value"
            tx, ty = left + (j + 0.5) * cell_width - gap / 2, cy + (cell_height - gap) / 2 + FONT_SIZE / 3
            body.append(_text(tx, ty, text, cls, "middle", data_value=_raw(v)))
    return _svg("heatmap", width, height, label, body)


def ranges(
    labels: Sequence[str],
    lows: Sequence[float | None],
    mids: Sequence[float | None],
    highs: Sequence[float | None],
    label: str,
    fmt: Fmt = plain,
    *,
    width: float = 640,
    empty: str = "No data",
) -> str:
    """A distribution per category: a bar from low to high with a mark at mid (e.g. median, p75, p90)."""
    _check_length("lows", lows, len(labels))
    _check_length("mids", mids, len(labels))
    _check_length("highs", highs, len(labels))
    lo_values, mid_values, hi_values = _cleaned(lows), _cleaned(mids), _cleaned(highs)
    every = _present(lo_values) + _present(mid_values) + _present(hi_values)
    if not labels or not every:
        return _empty("ranges", label, empty, width)
    ticks = _nice_ticks(min(0.0, *every), max(0.0, *every))
    texts = ["–" if m is None else fmt(m) for m in mid_values]
    x0, x1, label_width = _columns(labels, texts, width)
    x = _Scale(ticks[0], ticks[-1], x0, x1)
    bar_height, pitch, top = 14.0, 26.0, 6.0
    plot_bottom = top + pitch * len(labels)
    height = plot_bottom + 22

    body: list[str] = []
    for tick in ticks:
        tx = x(tick)
        body.append(_el("line", {"class": "sp-grid", "x1": tx, "x2": tx, "y1": top, "y2": plot_bottom}))
        text = fmt(tick)
        body.append(_text(tx, plot_bottom + 16, text, "sp-axis-label sp-x-label", "middle", data_value=_raw(tick)))
    axis = {"class": "sp-axis", "x1": x0, "x2": x1, "y1": plot_bottom, "y2": plot_bottom, "stroke": "currentColor"}
    body.append(_el("line", axis))
    for i, name in enumerate(labels):
        low, mid, high = lo_values[i], mid_values[i], hi_values[i]
        by = top + i * pitch + (pitch - bar_height) / 2
        text_y = by + bar_height / 2 + FONT_SIZE / 3
        shown = " – ".join("–" if v is None else fmt(v) for v in (low, mid, high))
        parts = [_title(f"{name}: {shown}"), _text(x0 - 8, text_y, _truncate(name, label_width), "sp-label", "end")]
        if low is not None and high is not None:
            start, end = sorted((x(low), x(high)))
            rect = {"class": "sp-range", "x": start, "y": by, "width": end - start, "height": bar_height}
            parts.append(_el("rect", rect | {"fill": "currentColor", "data-low": _raw(low), "data-high": _raw(high)}))
        if mid is not None:
            mark = {"class": "sp-range-mid", "x1": x(mid), "x2": x(mid), "y1": by - 3, "y2": by + bar_height + 3}
            parts.append(_el("line", mark | {"stroke": "currentColor", "stroke-width": 3, "data-value": _raw(mid)}))
            parts.append(_text(x1 + 8, text_y, texts[i], "sp-value", data_value=_raw(mid)))
        else:
            parts.append(_text(x1 + 8, text_y, texts[i], "sp-value sp-missing"))
        body.append(_el("g", {"class": "sp-row", "data-label": name}, "".join(parts)))
    return _svg("ranges", width, height, label, body)

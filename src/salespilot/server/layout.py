"""The frame of every page: the navigation bar, the filter bar, the language switch, the texts
shared by the pages in English and French, and the HTML document around a page's content."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from importlib import resources

from salespilot.server.filters import FILTER_DIMS, GRAINS, Filters

LANGUAGES = ("en", "fr")
TEXT = {
    "en": {
        "signin": "Sign in",
        "signout": "Sign out",
        "email": "E-mail",
        "password": "Password",
        "previous": "previous period",
        "target": "target",
        "apply": "Apply",
        "from": "From",
        "to": "To",
        "grain": "Grain",
        "month": "month",
        "quarter": "quarter",
        "year": "year",
        "rep": "Rep",
        "team": "Team",
        "channel": "Channel",
        "segment": "Segment",
        "all": "all",
        "rows": "Rows behind",
        "empty": "No data for these filters.",
        "error_title": "This page cannot be shown",
        "not_found": "There is no page at {path}.",
        "bad_login": "Wrong e-mail or password.",
        "too_many": "Too many failed sign-ins: try again in {m} min.",
        "back": "Back to the overview",
        "language": "Language",
        "definition": "Definition",
        "unit": "Unit",
        "dimensions": "Can be split by",
        "series": "By period",
        "period": "Period",
        "value": "Value",
        "numerator": "Numerator",
        "denominator": "Denominator",
        "ci": "95% interval",
        "flags": "Flags",
        "kpi": "KPI",
    },
    "fr": {
        "signin": "Se connecter",
        "signout": "Se déconnecter",
        "email": "E-mail",
        "password": "Mot de passe",
        "previous": "période précédente",
        "target": "objectif",
        "apply": "Appliquer",
        "from": "Du",
        "to": "Au",
        "grain": "Granularité",
        "month": "mois",
        "quarter": "trimestre",
        "year": "année",
        "rep": "Commercial",
        "team": "Équipe",
        "channel": "Canal",
        "segment": "Segment",
        "all": "tous",
        "rows": "Lignes sous-jacentes",
        "empty": "Aucune donnée pour ces filtres.",
        "error_title": "Cette page ne peut pas être affichée",
        "not_found": "Il n'y a pas de page à l'adresse {path}.",
        "bad_login": "E-mail ou mot de passe incorrect.",
        "too_many": "Trop de connexions échouées : réessayez dans {m} min.",
        "back": "Retour à la vue d'ensemble",
        "language": "Langue",
        "definition": "Définition",
        "unit": "Unité",
        "dimensions": "Ventilable par",
        "series": "Par période",
        "period": "Période",
        "value": "Valeur",
        "numerator": "Numérateur",
        "denominator": "Dénominateur",
        "ci": "Intervalle à 95 %",
        "flags": "Alertes",
        "kpi": "Indicateur",
    },
}
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2733"/>'
    '<path d="M3 12l3-4 3 2 4-6" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)


def stylesheet() -> str:
    return (resources.files("salespilot.server") / "static" / "app.css").read_text(encoding="utf-8")


def texts(lang: str, *extra: dict[str, dict[str, str]]) -> dict[str, str]:
    """The interface texts of ``lang``: the shared ones, then each page's own."""
    lang = lang if lang in LANGUAGES else "en"
    merged = dict(TEXT[lang])
    for more in extra:
        merged.update(more.get(lang, more.get("en", {})))
    return merged


def asked_language(query: Mapping[str, str], accept: str) -> str:
    """The language of someone not signed in: ``?lang=``, else the browser's Accept-Language
    (``fr-FR,fr;q=0.9,en;q=0.8``: the first of ours by preference), else English."""
    if query.get("lang") in LANGUAGES:
        return str(query["lang"])
    ranked = []
    for i, part in enumerate(accept.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, i, tag.strip().lower().split("-")[0]))
    return next((code for _, _, code in sorted(ranked) if code in LANGUAGES), "en")


def login_form(t: dict[str, str], lang: str, note: str = "") -> str:
    """The sign-in form in ``lang``, with a link to the other language and ``note`` (an error)."""
    other = "fr" if lang == "en" else "en"
    words = {"en": "English", "fr": "Français"}
    shown = f'<p class="sp-error" role="alert">{html.escape(note)}</p>' if note else ""
    return (
        f'<form method="post" action="/login" class="sp-login"><h1>SalesPilot</h1>{shown}'
        f'<input type="hidden" name="lang" value="{lang}">'
        f'<label>{t["email"]} <input name="email" type="email" required autocomplete="username"></label>'
        f'<label>{t["password"]} <input name="password" type="password" required '
        f'autocomplete="current-password"></label><button>{t["signin"]}</button>'
        f'<p class="sp-note"><a href="/login?lang={other}" hreflang="{other}" lang="{other}">{words[other]}</a></p>'
        "</form>"
    )


def nav(t: dict[str, str], csrf: str | None, links: Sequence[tuple[str, str]], here: str, lang: str) -> str:
    """The top bar: one link per page (``(path, label)``), the language switch and sign-out."""
    token = f'<input type="hidden" name="csrf" value="{html.escape(csrf or "")}">'
    items = "".join(
        f'<a href="{html.escape(path)}"{" class=sp-here" if path == here else ""}>{html.escape(label)}</a>'
        for path, label in links
    )
    switch = "".join(
        f'<button name="language" value="{code}"{" disabled" if code == lang else ""}>{code.upper()}</button>'
        for code in LANGUAGES
    )
    return (
        f'<header class="sp-nav"><strong>SalesPilot</strong>{items}'
        f'<form method="post" action="/language" class="sp-lang" aria-label="{t["language"]}">{token}'
        f'<input type="hidden" name="back" value="{html.escape(here)}">{switch}</form>'
        f'<form method="post" action="/logout">{token}<button>{t["signout"]}</button></form></header>'
    )


def filter_form(
    t: dict[str, str],
    f: Filters,
    dims: Sequence[str] = FILTER_DIMS,
    keep: Mapping[str, str] | None = None,
    periods: bool = True,
) -> str:
    """The filter bar; a GET form, so the URL keeps the filters (and ``keep``: the page's own
    parameters). Without ``periods`` (a page of the present, such as the pipeline) no grain or dates."""
    grains = "".join(f'<option value="{g}"{" selected" if g == f.grain else ""}>{t[g]}</option>' for g in GRAINS)
    fields = "".join(f'<label>{t[d]} <input name="{d}" value="{html.escape(f.dims.get(d, ""))}"></label>' for d in dims)
    start = f.start.isoformat() if f.start else ""
    end = f.end.isoformat() if f.end else ""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in (keep or {}).items()
    )
    period_fields = (
        f'<label>{t["grain"]} <select name="grain">{grains}</select></label>'
        f'<label>{t["from"]} <input type="date" name="from" value="{start}"></label>'
        f'<label>{t["to"]} <input type="date" name="to" value="{end}"></label>'
        if periods
        else ""
    )
    return f'<form class="sp-filters" method="get">{period_fields}{fields}{hidden}<button>{t["apply"]}</button></form>'


def document(title: str, body: str, lang: str) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title if title == 'SalesPilot' else f'{title} · SalesPilot')}</title>"
        "<link rel='stylesheet' href='/static/app.css'>"
        f"<link rel='icon' href='/favicon.ico'></head><body>{body}</body></html>"
    )

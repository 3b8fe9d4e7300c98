"""Flags in the user's words. The engine attaches short codes to a figure (``small_sample``,
``immature_cohort``, ``joined_on_2026-03-01``, ``far_below_reference: look at the loss reasons``);
the API returns them as they are, the pages show them through ``text`` in the user's language.
A code this module does not know is shown as it is rather than dropped."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from salespilot.server import formats

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "immature_cohort": "still maturing: the rate will rise",
        "small_sample": "small sample",
        "missing_fx_rate": "exchange rate missing",
        "partial_period": "period not over",
        "pending_renewals": "renewals still possible",
        "no_costs": "no costs recorded",
        "few_peers": "fewer than 4 peers",
        "not_a_proportion": "a ratio, not a proportion",
        "no_data": "no data",
        "no_quota": "no quota",
        "far_below_reference": "far below the reference",
        "rep_without_data": "no data for rep {detail}: company rate used",
        "no_active_ae": "no active AE: company rate used",
        "understaffed": "understaffed: {role} needs {needed}, has {today}",
        "history_shorter_than_horizon": "history shorter than the horizon",
        "stage_without_history": "stage without history",
        "no_amount": "no amount",
        "small_history": "only {detail} closed deals to learn from",
        "joined_on": "joined on {date}",
        "left_on": "left on {date}",
    },
    "fr": {
        "immature_cohort": "en maturation : le taux va monter",
        "small_sample": "petit échantillon",
        "missing_fx_rate": "taux de change manquant",
        "partial_period": "période en cours",
        "pending_renewals": "renouvellements encore possibles",
        "no_costs": "aucun coût enregistré",
        "few_peers": "moins de 4 pairs",
        "not_a_proportion": "un ratio, pas une proportion",
        "no_data": "aucune donnée",
        "no_quota": "pas de quota",
        "far_below_reference": "très en dessous de la référence",
        "rep_without_data": "aucune donnée pour le commercial {detail} : taux de l'entreprise utilisé",
        "no_active_ae": "aucun AE actif : taux de l'entreprise utilisé",
        "understaffed": "sous-effectif : {role} en demande {needed}, en a {today}",
        "history_shorter_than_horizon": "historique plus court que l'horizon",
        "stage_without_history": "étape sans historique",
        "no_amount": "sans montant",
        "small_history": "seulement {detail} affaires closes pour apprendre",
        "joined_on": "arrivé le {date}",
        "left_on": "parti le {date}",
        # the planner's advice after far_below_reference (analytics/planner.py ADVICE)
        "check the call lists and the pitch": "vérifier les listes d'appel et l'argumentaire",
        "adjust the target or the qualification process": "ajuster la cible ou le processus de qualification",
        "look at the loss reasons": "regarder les motifs de perte",
    },
}
_DATED = re.compile(r"^(joined_on|left_on)_(\d{4}-\d{2}-\d{2})$")
_UNDERSTAFFED = re.compile(r"^(.+) needs ([\d.]+), has (\d+)$")
_SMALL_HISTORY = re.compile(r"^(\d+) closed deals$")


def text(flags: Sequence[str] | None, lang: str, names: Mapping[str, str] | None = None) -> str:
    """The flags as one line in ``lang``; ``names``: words for a prefix such as a funnel step
    (``"call_to_lead: small_sample"``)."""
    return ", ".join(one(f, lang, names) for f in flags or ())


def one(flag: str, lang: str, names: Mapping[str, str] | None = None) -> str:
    words = TEXT.get(lang, TEXT["en"])
    if flag in words:
        return words[flag]
    dated = _DATED.match(flag)
    if dated:
        day = dt.date.fromisoformat(dated.group(2))
        return words[dated.group(1)].format(date=formats.date(day, lang))
    code, sep, detail = flag.partition(": ")
    if not sep:
        return flag
    colon = formats.colon(lang)
    if names is not None and code in names:  # "<step>: <flag>"
        return f"{names[code]}{colon}{one(detail, lang, names)}"
    if code == "understaffed" and (m := _UNDERSTAFFED.match(detail)):
        needed = formats.number(float(m.group(2)), lang, 1)
        return words[code].format(role=m.group(1).upper(), needed=needed, today=m.group(3))
    if code == "small_history" and (m := _SMALL_HISTORY.match(detail)):
        return words[code].format(detail=formats.number(int(m.group(1)), lang))
    if code not in words:
        return flag
    if "{detail}" in words[code]:  # rep_without_data
        return words[code].format(detail=detail)
    if code == "no_active_ae":  # its detail ("company rate") is in the words
        return words[code]
    return f"{words[code]}{colon}{words.get(detail, detail)}"

"""The engine's and the server's error messages in the user's language, on the pages.

The engine, the CLI and the API speak English (one message, whoever reads it: a log, a script).
A page shows an error to a person, so it passes the message through ``text``, which knows the
phrasings a user meets on the dashboard: a wrong parameter (date, choice, number, rate), a range
the wrong way round, a filter a KPI has no meaning for, an unknown KPI, a page for admins. A
message it does not know is shown as it is rather than dropped. The import reasons have their own
table (``server.reasons``)."""

from __future__ import annotations

import re

# (pattern of the English message, its French text with the pattern's groups); the first that
# matches the whole message wins.
FRENCH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), french)
    for pattern, french in (
        (
            r"^Parameter (\w+): expected a date YYYY-MM-DD \(got (.*)\)\.$",
            r"Paramètre \1 : date attendue au format AAAA-MM-JJ (reçu \2).",
        ),
        (
            r"^Parameter (\w+): expected one of (.+) \(got (.*)\)\.$",
            r"Paramètre \1 : valeur attendue parmi \2 (reçu \3).",
        ),
        (r"^Parameter (\w+): expected one of (.+)\.$", r"Paramètre \1 : valeur attendue parmi \2."),
        (r"^Parameter to \((.+)\) is before from \((.+)\)\.$", r"Le paramètre to (\1) précède from (\2)."),
        (
            r"^Parameter (\w+): (\w+) cannot be filtered by (\w+)\.$",
            r"Paramètre \1 : \2 ne peut pas être filtré par \3.",
        ),
        (
            r"^Parameter (\w+): expected a number above 0 \(got (.*)\)\.$",
            r"Paramètre \1 : nombre supérieur à 0 attendu (reçu \2).",
        ),
        (
            r"^Parameter (\w+): expected a rate above 0 and at most 1, e\.g\. 0\.25 \(got (.*)\)\.$",
            r"Paramètre \1 : taux attendu au-dessus de 0 et au plus 1, par exemple 0,25 (reçu \2).",
        ),
        (r"^Parameter (\w+): not a filter; expected one of (.+)\.$", r"Paramètre \1 : pas un filtre ; attendu : \2."),
        (
            r"^Parameter rates: per-rep plans a team from each of its reps' own rates, and a rep sees only their "
            r"own: use measured\.$",
            "Paramètre rates : per-rep planifie une équipe à partir des taux de chacun de ses commerciaux, et un "
            "commercial ne voit que les siens : utilisez measured.",
        ),
        (
            r"^Parameter rates: rates=per-rep needs active SDRs in the reps table; there are none\.$",
            "Paramètre rates : rates=per-rep demande des SDR actifs dans la table reps ; il n'y en a aucun.",
        ),
        (r"^Unknown KPI (.+) \(see /api/v1/kpis\)\.$", r"Indicateur inconnu \1 (voir /api/v1/kpis)."),
        (r"^Only an admin may open the (\w+) page\.$", r"Seul un administrateur peut ouvrir la page \1."),
        (r"^Only an admin may (.+)\.$", r"Seul un administrateur peut le faire (\1)."),
    )
)


# the grains a page offers, in the French of the filter bar (the value to type stays the code)
GRAINS_FR = "month (mois), quarter (trimestre), year (année)"


def text(message: str, lang: str) -> str:
    """``message`` in ``lang`` (the English where no translation is known)."""
    if lang != "fr":
        return message
    for pattern, french in FRENCH:
        if pattern.match(message):
            return pattern.sub(french, message).replace("month, quarter, year", GRAINS_FR)
    return message

"""Why an import set a row aside (or warned), in the user's language. The importer records its
reasons in English (the CLI's, the API's and the store's words: ``created_at is required but
empty``); the pages show them through ``text``, which knows each of the importer's phrasings
(ingest/convert.py, ingest/readers_*.py, store/loader.py). A reason it does not know is shown as
it is rather than dropped."""

from __future__ import annotations

import re

# (pattern of the English reason, its French text with the pattern's groups)
FRENCH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), french)
    for pattern, french in (
        (r"^(\w+) is required but empty$", r"\1 est obligatoire mais vide"),
        (r"^(\w+) cannot be negative$", r"\1 ne peut pas être négatif"),
        (r"^(\w+) must be greater than 0$", r"\1 doit être supérieur à 0"),
        (r"^(\w+): expected a date in (.+)$", r"\1 : date attendue au format \2"),
        (r"^(\w+): expected a number \(decimal comma\)$", r"\1 : nombre attendu (virgule décimale)"),
        (r"^(\w+): expected a number \(decimal point\)$", r"\1 : nombre attendu (point décimal)"),
        (r"^(\w+): expected a whole number$", r"\1 : nombre entier attendu"),
        (r"^(\w+): expected a period label \((.+?)(?: or (\S+))?\)$", r"\1 : libellé de période attendu (\2 ou \3)"),
        (r"^(\w+): expected one of (.+)$", r"\1 : valeur attendue parmi \2"),
        (
            r"^(\w+): not a plausible date \(years (\d+)-(\d+)\); a placeholder such as (\S+) should be left empty$",
            r"\1 : date invraisemblable (années \2-\3) ; une date fictive comme \4 doit rester vide",
        ),
        (
            r"^closed_at: a won or lost opportunity needs its close date$",
            "closed_at : une opportunité gagnée ou perdue a besoin de sa date de clôture",
        ),
        (
            r"^closed_at: the opportunity closes before it was created$",
            "closed_at : l'opportunité se clôt avant d'avoir été créée",
        ),
        (r"^end_date: the contract ends before it starts$", "end_date : le contrat se termine avant de commencer"),
        (r"^duplicate key \((.+)\) already given at row (\d+)$", r"clé en double (\1), déjà donnée à la ligne \2"),
        (
            r"^has (\d+) field\(s\), expected (\d+) \(the header's\)$",
            r"a \1 champ(s), \2 attendu(s) (ceux de l'en-tête)",
        ),
        (
            r"^opens a quote \(\"\) that is never closed, so the rest of the file fell into this row$",
            'ouvre des guillemets (") jamais refermés : le reste du fichier est tombé dans cette ligne',
        ),
        (
            r"^has a value in column (\w+) \((.*)\), right of the last header column (\w+)$",
            r"a une valeur en colonne \1 (\2), à droite de la dernière colonne d'en-tête \3",
        ),
        (r"^is not an object$", "n'est pas un objet"),
        (r"^(\w+): unknown (\w+)\.(\w+) \(row loaded anyway\)$", r"\1 : \2.\3 inconnu (ligne chargée quand même)"),
    )
)


def text(reason: str | None, lang: str) -> str | None:
    """``reason`` in ``lang`` (the importer's English where no translation is known)."""
    if reason is None or lang != "fr":
        return reason
    for pattern, french in FRENCH:
        if pattern.match(reason):
            return pattern.sub(french, reason).replace(" or ", " ou ")  # "2017-03-14 or 2017-03-14T09:30"
    return reason

"""The data's codes in the user's words: roles, scopes, forecast categories, stages, outcomes,
segments, channels, languages and the canonical columns. The store and the API keep the codes
(``best_case``, ``mid_market``, ``ae``); a page's table shows them through a column's ``words``
(``server.tables.Column``) and a form's options through ``of``. A value this module does not know
(a stage the company named itself, a channel of its own) is shown as the CRM wrote it.

One word per idea, as GLOSSARY.md names them."""

from __future__ import annotations

from collections.abc import Mapping

VOCABULARIES: dict[str, dict[str, dict[str, str]]] = {
    "user_role": {  # who may see what (docs/access.md)
        "en": {"admin": "admin", "manager": "manager", "rep": "rep", "viewer": "viewer"},
        "fr": {"admin": "administrateur", "manager": "manager", "rep": "commercial", "viewer": "lecteur"},
    },
    "rep_role": {  # a rep's job in the funnel (reps.role)
        "en": {"sdr": "SDR", "ae": "account executive", "am": "account manager", "manager": "manager"},
        "fr": {
            "sdr": "SDR (prospection)",
            "ae": "commercial (AE)",
            "am": "gestionnaire de comptes",
            "manager": "manager",
        },
    },
    "scope": {
        "en": {"company": "company", "team": "team", "rep": "rep"},
        "fr": {"company": "entreprise", "team": "équipe", "rep": "commercial"},
    },
    "forecast_category": {
        "en": {"commit": "commit", "best_case": "best case", "pipeline": "pipeline", "omitted": "omitted"},
        "fr": {"commit": "engagé", "best_case": "meilleur cas", "pipeline": "pipeline", "omitted": "exclu"},
    },
    "stage": {
        "en": {
            "qualification": "qualification",
            "discovery": "discovery",
            "demo": "demo",
            "proposal": "proposal",
            "negotiation": "negotiation",
            "won": "won",
            "lost": "lost",
        },
        "fr": {
            "qualification": "qualification",
            "discovery": "découverte",
            "demo": "démo",
            "proposal": "proposition",
            "negotiation": "négociation",
            "won": "gagnée",
            "lost": "perdue",
        },
    },
    "outcome": {
        "en": {"open": "open", "won": "won", "lost": "lost"},
        "fr": {"open": "ouverte", "won": "gagnée", "lost": "perdue"},
    },
    "segment": {
        "en": {"smb": "SMB", "mid_market": "mid-market", "enterprise": "enterprise"},
        "fr": {"smb": "PME", "mid_market": "ETI", "enterprise": "grands comptes"},
    },
    "channel": {
        "en": {
            "outbound": "outbound",
            "website": "website",
            "web": "web",
            "paid_search": "paid search",
            "events": "events",
            "partners": "partners",
            "referral": "referral",
        },
        "fr": {
            "outbound": "prospection sortante",
            "website": "site web",
            "web": "web",
            "paid_search": "recherche payante",
            "events": "événements",
            "partners": "partenaires",
            "referral": "recommandation",
        },
    },
    "deal_type": {  # opportunities.type
        "en": {"new": "new business", "renewal": "renewal", "upsell": "upsell"},
        "fr": {"new": "nouvelle affaire", "renewal": "renouvellement", "upsell": "vente additionnelle"},
    },
    "language": {
        "en": {"en": "English", "fr": "French"},
        "fr": {"en": "anglais", "fr": "français"},
    },
    "import_mapping": {
        "en": {"automatic": "automatic", "demo": "demo"},
        "fr": {"automatic": "automatique", "demo": "démo"},
    },
    "import_table": {  # an import's table; the demo writes them all at once
        "en": {"all": "every table"},
        "fr": {"all": "toutes les tables"},
    },
    "column": {  # the canonical columns, as the rows behind a KPI show them
        "en": {
            "lead_id": "lead",
            "opportunity_id": "opportunity",
            "account_id": "account",
            "activity_id": "activity",
            "contract_id": "contract",
            "name": "name",
            "created_at": "created",
            "closed_at": "closed",
            "expected_close_date": "expected close",
            "amount": "amount",
            "value": "value",
            "currency": "currency",
            "stage": "stage",
            "outcome": "outcome",
            "owner_id": "owner",
            "rep": "rep",
            "team": "team",
            "channel": "channel",
            "campaign": "campaign",
            "segment": "segment",
            "industry": "industry",
            "country": "country",
            "product": "product",
            "type": "type",
            "status": "status",
            "loss_reason": "loss reason",
            "anchor": "date",
            "date": "date",
            "margin": "margin",
            "amount_base": "amount (base currency)",
            "margin_base": "margin (base currency)",
            "cycle_days": "sales cycle (days)",
            "acquired_at": "acquired",
            "forecast_category": "forecast category",
            "category": "category",
            "visitors": "visitors",
            "contacts": "contacts",
            "reach": "reach",
            "engagements": "engagements",
            "days": "days",
        },
        "fr": {
            "lead_id": "lead",
            "opportunity_id": "opportunité",
            "account_id": "compte",
            "activity_id": "activité",
            "contract_id": "contrat",
            "name": "nom",
            "created_at": "créée le",
            "closed_at": "close le",
            "expected_close_date": "clôture prévue",
            "amount": "montant",
            "value": "valeur",
            "currency": "devise",
            "stage": "étape",
            "outcome": "issue",
            "owner_id": "propriétaire",
            "rep": "commercial",
            "team": "équipe",
            "channel": "canal",
            "campaign": "campagne",
            "segment": "segment",
            "industry": "secteur",
            "country": "pays",
            "product": "produit",
            "type": "type",
            "status": "statut",
            "loss_reason": "motif de perte",
            "anchor": "date",
            "date": "date",
            "margin": "marge",
            "amount_base": "montant (devise de référence)",
            "margin_base": "marge (devise de référence)",
            "cycle_days": "cycle de vente (jours)",
            "acquired_at": "acquis le",
            "forecast_category": "catégorie de prévision",
            "category": "catégorie",
            "visitors": "visiteurs",
            "contacts": "contacts",
            "reach": "portée",
            "engagements": "engagements",
            "days": "jours",
        },
    },
}


def of(kind: str, lang: str) -> Mapping[str, str]:
    """The words of vocabulary ``kind`` in ``lang`` (English where the language has none)."""
    vocabulary = VOCABULARIES[kind]
    return vocabulary.get(lang, vocabulary["en"])


def word(kind: str, code: object, lang: str) -> str:
    """One code in the user's words; a code the vocabulary does not know, as it is."""
    text = "" if code is None else str(code)
    return of(kind, lang).get(text, text)

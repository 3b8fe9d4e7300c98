"""Reading and writing workspace settings in the store."""

from __future__ import annotations

from salespilot.settings import SETTINGS, validate
from salespilot.store.connection import Store


def get_setting(store: Store, name: str) -> str:
    if name not in SETTINGS:
        validate(name, "")  # raises ParameterError with a suggestion
    value = store.scalar("SELECT value FROM settings WHERE key = ?", [name])
    return str(value) if value is not None else SETTINGS[name].default


def all_settings(store: Store) -> dict[str, str]:
    stored = dict(store.fetchall("SELECT key, value FROM settings"))
    return {name: str(stored.get(name, s.default)) for name, s in SETTINGS.items()}


def set_setting(store: Store, name: str, value: str) -> str:
    clean = validate(name, value)
    with store.transaction():
        store.execute("DELETE FROM settings WHERE key = ?", [name])
        store.execute("INSERT INTO settings VALUES (?, ?)", [name, clean])
    return clean

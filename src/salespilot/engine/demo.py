"""Writing the demo company into a store, in one transaction."""

from __future__ import annotations

import datetime as dt

from salespilot.demo.generator import SIZES, generate
from salespilot.errors import ParameterError, UserInputError, did_you_mean
from salespilot.model import TABLES
from salespilot.store import loader as store_loader
from salespilot.store.connection import Store, quote_ident
from salespilot.store.status import table_counts


def load_demo(store: Store, size: str, seed: int, replace: bool) -> dict[str, int]:
    if size not in SIZES:
        raise ParameterError(
            f'--size "{size}" is not a demo size.{did_you_mean(size, SIZES)} Sizes: {", ".join(SIZES)}.'
        )
    if seed < 0:
        raise ParameterError(f"--seed must be a whole number >= 0, not {seed}.")
    counts = table_counts(store)
    held = {name: n for name, n in counts.items() if n}
    if held and not replace:
        listed = ", ".join(f"{n} {name}" for name, n in held.items())
        raise UserInputError(
            f"The store {store.label} already holds data ({listed}). Use --replace to wipe it and write the "
            "demo company, or point --db to another store."
        )
    written: dict[str, int] = dict.fromkeys(TABLES, 0)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    chunks = generate(size, seed)
    with store.transaction():
        for name in TABLES:
            store.execute(f"DELETE FROM {quote_ident(name)}")
        import_id = store_loader.next_import_id(store)
        for name, chunk in chunks:
            store.append_arrow(name, chunk)
            written[name] += chunk.num_rows
        total = sum(written.values())
        store.execute(
            "INSERT INTO imports VALUES (?, 'all', ?, NULL, 'demo', ?, ?, ?, ?, 0, 0, 0, 0)",
            [
                import_id,
                f"demo company (size {size}, seed {seed})",
                started,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                total,
                total,
            ],
        )
    return written

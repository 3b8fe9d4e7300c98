"""SalesPilot: commercial KPIs from your CRM data.

    import salespilot
    ws = salespilot.open("salespilot.duckdb")
    ws.import_file("deals.csv", mapping="hubspot-deals")
    ws.status()

The engine is imported on first use, so ``import salespilot.errors`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from salespilot.engine.workspace import Workspace, open
    from salespilot.errors import SalesPilotError

__all__ = ["SalesPilotError", "Workspace", "__version__", "open"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("Workspace", "open"):
        from salespilot.engine import workspace

        return getattr(workspace, name)
    if name == "SalesPilotError":
        from salespilot.errors import SalesPilotError

        return SalesPilotError
    raise AttributeError(f"module 'salespilot' has no attribute {name!r}")

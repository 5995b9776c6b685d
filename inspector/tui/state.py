"""What screens may read of the app, as a protocol: screens never import ``app.py``.

The app imports the screens; screens only read this state (and watch its reactives by name)
and ask for anything to happen by posting the messages of ``messages.py``. So the arrows point
one way: ``app`` → ``screens`` → ``state``/``messages``, never back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from inspector.core.health.look import Health
    from inspector.core.model import ScanResult

    from .config import AppConfig
    from .settings import SavedSort


class AppState(Protocol):
    """The app's reactive state that screens draw from (see ``InspectorApp``)."""

    config: AppConfig
    scan_result: ScanResult | None
    scanning: bool
    deep_pending: bool
    recovered_ids: frozenset[str]
    load_error: str
    show_all: bool
    refreshed: bool  # scan_result came from a watch-mode refresh of the same view
    saved_sort: SavedSort | None  # the sessions list's sort from settings.toml (restored at start)
    db_health: Health | None  # the database's own health, looked at after each full scan


def app_state(node: DOMNode) -> AppState:
    """The running app's state, typed by the protocol instead of the app class."""
    return cast("AppState", node.app)

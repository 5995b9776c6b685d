"""The app as its helpers see it: Textual's ``App`` with ocinspect's state on it (the reactives
the screens watch, the config, the view's flags). ``InspectorApp`` is one. ``scanning.Scans``,
``writes.Writes`` and ``handoff.Handoff`` type their ``app`` as a ``Host``, so they never import
``app.py``, which builds them: the arrows point one way (app → helpers → host).

A base class rather than a protocol: the helpers use Textual's own API of the app too (workers,
timers, screens, toasts) and hand it to functions that take an ``App``; a protocol cannot be
both."""

from __future__ import annotations

from textual.app import App
from textual.reactive import reactive

from inspector.core.health.look import Health
from inspector.core.model import ScanResult
from inspector.core.opencode.launch import Launch

from .config import AppConfig
from .settings import SavedSort


class Host(App[Launch | None]):
    """The state ``InspectorApp`` keeps (``state.AppState`` is what screens read of it)."""

    # State the screens watch and redraw from; the app itself draws nothing, so no repaint of
    # the whole screen when they change (only the widgets whose content changed redraw).
    scan_result: reactive[ScanResult | None] = reactive(None, init=False, always_update=True, repaint=False)
    scanning: reactive[bool] = reactive(False, init=False, repaint=False)
    deep_pending: reactive[bool] = reactive(False, init=False, repaint=False)
    recovered_ids: reactive[frozenset[str]] = reactive(frozenset(), init=False, repaint=False)
    load_error: reactive[str] = reactive("", init=False, repaint=False)
    db_health: reactive[Health | None] = reactive(None, init=False, repaint=False)

    config: AppConfig
    show_all: bool  # every session listed, not only the stuck ones
    refreshed: bool  # the shown result came from an incremental refresh (see state.py)
    saved_sort: SavedSort | None  # the list's sort, kept in settings.toml

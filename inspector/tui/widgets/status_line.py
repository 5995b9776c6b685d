"""The header line under the title: which database, which schema, is OpenCode live, counts."""

from __future__ import annotations

from collections import Counter

from textual.content import Content
from textual.widgets import Static

from inspector.core.diagnose.resume_risk import rerun_at_boot
from inspector.core.model import ScanResult

from ..config import AppConfig
from ..format import display_path, plural


def status_content(
    config: AppConfig, result: ScanResult | None, *, deep_running: bool, failed: bool = False
) -> Content:
    """One or two lines; the path is literal text, never markup. ``failed``: the scan failed
    before showing anything (the notification and the empty state say why)."""
    parts: list[str | tuple[str, str]] = [(display_path(config.db_path), "bold")]
    if config.demo:
        parts += [" ", (" demo ", "reverse")]
    if config.read_only:
        parts += [" ", (" read-only ", "reverse $warning")]
    if result is None:
        parts += [" · ", ("scan failed", "bold $error") if failed else ("scanning…", "italic")]
        return Content.assemble(*parts)
    parts += [" · schema ", result.schema, " · "]
    if result.opencode_live is False:
        parts.append(("OpenCode not running", "$success"))
    elif result.opencode_live is True:
        parts.append(("OpenCode running", "$warning bold"))
    else:
        parts.append(("OpenCode: unknown", "$warning"))
    stuck = result.stuck
    verdicts = Counter(d.verdict for d in stuck)
    parts.append(" · ")
    parts.append((f"{len(stuck)} stuck" if stuck else "nothing stuck", "bold"))
    if result.total_sessions:
        parts.append(f" of {plural(result.total_sessions, 'session')}")
    if stuck:
        detail = ", ".join(
            f"{verdicts[v]} {v}" for v in ("stale", "hung", "waiting", "live", "unknown", "unfixable") if verdicts[v]
        )
        parts.append(f" ({detail})")
    if reruns := rerun_at_boot(stuck):  # OpenCode 2: what a read-only `opencode` command would repeat
        parts += [" · ", (f"{len(reruns)} re-run at service boot", "$warning bold")]
    if deep_running:
        parts += [" · ", ("quick scan; deep scan running…", "italic")]
    return Content.assemble(*parts)


class StatusLine(Static):
    """Updated by the sessions screen whenever the app's scan state changes."""

    _drawn: Content | None = None

    def show(self, config: AppConfig, result: ScanResult | None, *, deep_running: bool, failed: bool = False) -> None:
        content = status_content(config, result, deep_running=deep_running, failed=failed)
        if content != self._drawn:  # unchanged text: no layout pass
            self._drawn = content
            self.update(content)

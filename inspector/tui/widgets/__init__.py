"""Reusable pieces of the screens."""

from .empty_state import EmptyState
from .health_notice import HealthNotice
from .part_card import PartCard
from .plan_view import PlanView
from .scan_progress import ScanProgress
from .session_link import SessionLink
from .session_preview import SessionPreview
from .session_table import SessionTable
from .status_line import StatusLine

__all__ = [
    "EmptyState",
    "HealthNotice",
    "PartCard",
    "PlanView",
    "ScanProgress",
    "SessionLink",
    "SessionPreview",
    "SessionTable",
    "StatusLine",
]

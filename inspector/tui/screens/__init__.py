"""One module per screen."""

from .confirm_answer import ConfirmAnswer
from .confirm_recovery import ConfirmRecovery
from .confirm_undo import ConfirmUndo
from .help import HelpScreen
from .session_detail import SessionDetailScreen
from .sessions import SessionsScreen
from .timeline import PartScreen, TimelineScreen
from .unsupported import UnsupportedScreen

__all__ = [
    "ConfirmAnswer",
    "ConfirmRecovery",
    "ConfirmUndo",
    "HelpScreen",
    "SessionDetailScreen",
    "PartScreen",
    "SessionsScreen",
    "TimelineScreen",
    "UnsupportedScreen",
]

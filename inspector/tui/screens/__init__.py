"""One module per screen."""

from .confirm_recovery import ConfirmRecovery
from .help import HelpScreen
from .session_detail import SessionDetailScreen
from .sessions import SessionsScreen
from .unsupported import UnsupportedScreen

__all__ = ["ConfirmRecovery", "HelpScreen", "SessionDetailScreen", "SessionsScreen", "UnsupportedScreen"]

"""Connectors: the doors (HTTP, command line, MCP) through which connected commands are reached.

The core (`Connector`) is shared by every door and needs nothing beyond foobara-py itself; a door
that needs a library imports it when it is used (`connector.asgi()` imports Starlette).
"""

from .core import (
    Call,
    CommandNotConnectedError,
    Connection,
    Connector,
    ConnectorRequest,
    NoAuthenticatorGivenError,
    current_user,
)

__all__ = [
    "Call",
    "CommandNotConnectedError",
    "Connection",
    "Connector",
    "ConnectorRequest",
    "NoAuthenticatorGivenError",
    "current_user",
]

"""Connectors: the doors (HTTP, command line, MCP) through which connected commands are reached.

The core (`Connector`) is shared by every door and needs nothing beyond foobara-py itself; a door
that needs a library imports it when it is used (`connector.asgi()` imports Starlette).
"""

from .core import (
    CommandNotConnectedError,
    Connection,
    Connector,
    ConnectorRequest,
)

__all__ = ["CommandNotConnectedError", "Connection", "Connector", "ConnectorRequest"]

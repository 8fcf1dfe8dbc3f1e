"""Connectors: the doors (HTTP, command line, MCP) through which connected commands are reached.

The core (`Connector`) is shared by every door and needs nothing beyond foobara-py itself; a door
that needs a library imports it when it is used (`connector.asgi()` imports Starlette).
"""

from .calls import (
    Call,
    ConnectorRequest,
    ErrorsTransformer,
    InputsTransformer,
    ResultTransformer,
    cookie,
    current_user,
    header,
)
from .core import CommandNotConnectedError, Connection, Connector, NoAuthenticatorGivenError
from .transformers import AGGREGATE_SERIALIZERS, SERIALIZERS

__all__ = [
    "AGGREGATE_SERIALIZERS",
    "SERIALIZERS",
    "Call",
    "CommandNotConnectedError",
    "Connection",
    "Connector",
    "ConnectorRequest",
    "ErrorsTransformer",
    "InputsTransformer",
    "NoAuthenticatorGivenError",
    "ResultTransformer",
    "cookie",
    "current_user",
    "header",
]

"""busyhour.router — the deterministic ACD engine.

``Router`` is the engine: the compiled core behind a per-call facade and a
batch ``submit`` (docs/router-api.md). ``ReferenceRouter`` is the readable
Python engine that specifies its rules (docs/routing.md); the parity tests
hold the two equal. ``FastRouter`` is an old name of ``Router``.
"""

from .codes import STRATEGY_NAMES, AgentState, CallState, EventKind
from .config import RouterConfig, load_toml, parse_config, parse_toml
from .engine import ReferenceRouter
from .errors import ConfigError, OfferError, RouterError, StateError, TimeError, UnknownIdError
from .events import Event
from .fast import BatchResult, FastRouter, Router
from .stats import Position, RouterStats

STRATEGIES = tuple(STRATEGY_NAMES)

__all__ = [
    "Router", "ReferenceRouter", "FastRouter", "BatchResult", "RouterConfig", "parse_config", "parse_toml",
    "load_toml", "Event",
    "EventKind", "AgentState", "CallState",
    "Position", "RouterStats", "RouterError", "ConfigError", "UnknownIdError", "StateError", "OfferError",
    "TimeError", "STRATEGIES",
]

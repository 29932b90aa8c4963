"""busyhour.router — the deterministic ACD engine.

See docs/router-api.md for the facade and docs/routing.md for the rules.
"""

from .codes import STRATEGY_NAMES, AgentState, CallState, EventKind
from .config import RouterConfig, load_toml, parse_config
from .engine import Router
from .errors import ConfigError, OfferError, RouterError, StateError, TimeError, UnknownIdError
from .events import Event
from .fast import BatchResult, FastRouter
from .stats import Position, RouterStats

STRATEGIES = tuple(STRATEGY_NAMES)

__all__ = [
    "Router", "FastRouter", "BatchResult", "RouterConfig", "parse_config", "load_toml", "Event", "EventKind", "AgentState", "CallState",
    "Position", "RouterStats", "RouterError", "ConfigError", "UnknownIdError", "StateError", "OfferError",
    "TimeError", "STRATEGIES",
]

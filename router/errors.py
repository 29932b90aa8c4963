"""Exceptions raised by the router. Whenever one is raised, state is unchanged."""


class RouterError(Exception):
    """Base class for every error the router raises on bad input."""


class ConfigError(RouterError, ValueError):
    """Malformed configuration; the message names the key path."""


class UnknownIdError(RouterError, KeyError):
    """A call, agent, queue or skill id that the router does not know."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class StateError(RouterError):
    """An operation that is illegal in the current state (e.g. ready while logged out)."""


class OfferError(StateError):
    """An accept/reject for an offer that is not (or no longer) ringing."""


class TimeError(RouterError, ValueError):
    """``now`` went backwards, or is not a finite number."""

"""Integer codes shared by the router kernels and the facade.

Codes are plain module-level ``int`` constants so numba kernels can use them,
mirrored by ``IntEnum`` classes for the Python API. Never renumber: codes are
journaled.
"""

from __future__ import annotations

from enum import IntEnum

#: Agent presence (what the agent asked for). Display state is derived.
PRESENCE_LOGGED_OUT = 0
PRESENCE_NOT_READY = 1
PRESENCE_READY = 2

#: Agent lock kinds: an agent with a lock is not offered calls until it ends.
LOCK_NONE = 0
LOCK_WRAP_UP = 1
LOCK_DELAY = 2  # reject / busy / no-answer delay

#: Routing strategies.
STRAT_RING_ALL = 0
STRAT_RING_PROGRESSIVELY = 1
STRAT_LONGEST_IDLE = 2
STRAT_ROUND_ROBIN = 3
STRAT_TOP_DOWN = 4
STRAT_SEQUENTIAL = 5
STRAT_FEWEST_CALLS = 6
STRAT_LEAST_TALK = 7
STRAT_RANDOM = 8
STRAT_WEIGHTED_RANDOM = 9
STRAT_MOST_SKILLED = 10
STRAT_PREFERRED = 11
# Asterisk app_queue's own rules (docs/routing.md §2): counted per queue member, or drawn from the penalty
STRAT_LEAST_RECENT = 12
STRAT_FEWEST_CALLS_QUEUE = 13
STRAT_WRANDOM = 14

STRATEGY_NAMES: dict[str, int] = {
    "ring-all": STRAT_RING_ALL,
    "ring-progressively": STRAT_RING_PROGRESSIVELY,
    "longest-idle-agent": STRAT_LONGEST_IDLE,
    "round-robin": STRAT_ROUND_ROBIN,
    "top-down": STRAT_TOP_DOWN,
    "sequentially-by-agent-order": STRAT_SEQUENTIAL,
    "agent-with-fewest-calls": STRAT_FEWEST_CALLS,
    "agent-with-least-talk-time": STRAT_LEAST_TALK,
    "random": STRAT_RANDOM,
    "weighted-random": STRAT_WEIGHTED_RANDOM,
    "most-skilled-first": STRAT_MOST_SKILLED,
    "preferred-agent": STRAT_PREFERRED,
    "leastrecent": STRAT_LEAST_RECENT,
    "fewestcalls": STRAT_FEWEST_CALLS_QUEUE,
    "wrandom": STRAT_WRANDOM,
}
#: Asterisk's names for rules busyhour already has under another name: a configuration may use either.
STRATEGY_ALIASES: dict[str, str] = {
    "ringall": "ring-all",
    "rrmemory": "round-robin",
    "roundrobin": "round-robin",
    "rrordered": "round-robin",
    "linear": "top-down",
}
STRATEGY_BY_CODE = {v: k for k, v in STRATEGY_NAMES.items()}

MAX_NUMBER_CHARS = 256  # a callback number (dial string) kept by the router


class AgentState(IntEnum):
    """Display state of an agent, derived from presence, calls and locks."""

    LOGGED_OUT = 0
    NOT_READY = 1
    AVAILABLE = 2
    RESERVED = 3  # at least one offer ringing, nothing connected
    BUSY = 4  # at least one call connected
    WRAP_UP = 5


class CallState(IntEnum):
    WAITING = 0  # in a queue (also a callback keeping its place)
    OFFERED = 1  # ringing one or more agents
    CONNECTED = 2
    ENDED = 3


class EventKind(IntEnum):
    CALL_ARRIVED = 1
    CALL_QUEUED = 2
    CALL_OFFERED = 3
    CALLBACK_OFFERED = 4
    OFFER_WITHDRAWN = 5
    OFFER_EXPIRED = 6
    OFFER_REJECTED = 7
    CALL_CONNECTED = 8
    CALL_ESCALATED = 9
    CALL_OVERFLOWED = 10
    CALL_TRANSFERRED = 11
    CALLBACK_REQUESTED = 12
    CALL_ENDED = 13
    AGENT_STATE = 14
    MEMBER_PAUSED = 15  # an agent paused in one queue: detail the reason
    MEMBER_UNPAUSED = 16
    PRIORITY_CHANGED = 17  # a waiting or ringing call's priority changed: value the new priority
    MEMBER_ADDED = 18  # an agent became a member of a queue at run time: value its penalty
    MEMBER_REMOVED = 19  # an agent stopped being a member of a queue (a pause there ends with it)
    MEMBER_UPDATED = 20  # a member's tier, penalty, position or weight changed: value its penalty
    QUEUE_UPDATED = 21  # a queue's settings changed at run time (queue_update)
    CALL_MOVED = 22  # a waiting or ringing call moved to another queue (call_move): detail the target
    AGENT_ADDED = 23  # an agent added at run time (agent_add): logged out, a member of no queue
    AGENT_REMOVED = 24  # an agent removed at run time (agent_remove): its id is free again
    QUEUE_ADDED = 25  # a queue added at run time (queue_add); its members' MEMBER_ADDED follow
    QUEUE_REMOVED = 26  # a queue removed at run time (queue_remove), after its calls moved and members left

"""Mutable runtime state of the router: agent arrays, queues and calls.

Agents live in structure-of-arrays form (numpy), indexed by an internal
integer; the kernels read these arrays directly. Queues and calls are small
``__slots__`` objects: their hot data (member arrays, required skills) are
numpy arrays too.
"""

from __future__ import annotations

import math
from typing import Any, Hashable

import numpy as np

from .codes import LOCK_NONE, PRESENCE_LOGGED_OUT, STRATEGY_NAMES, CallState
from .config import QueueConfig, RouterConfig
from .empty import mask as empty_mask


class AgentArrays:
    """Per-agent state, one row per agent (index = configuration order, then the order agents were added)."""

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        if "gone" not in state:  # pickled before agents could be removed: none was; rows = config.agents
            self.gone = [False] * len(self.ids)
            self.configs = None

    def __init__(self, cfg: RouterConfig):
        n = len(cfg.agents)
        n_ch = len(cfg.channels)
        skill_index = {s: i for i, s in enumerate(cfg.skills)}
        ch_index = {c: i for i, c in enumerate(cfg.channels)}
        self.ids: list[Hashable] = [a.id for a in cfg.agents]
        self.index: dict[Hashable, int] = {a: i for i, a in enumerate(self.ids)}
        self.presence = np.full(n, PRESENCE_LOGGED_OUT, dtype=np.int8)
        self.not_ready_reason: list[str] = [""] * n
        self.lock_kind = np.full(n, LOCK_NONE, dtype=np.int8)
        self.lock_until = np.zeros(n, dtype=np.float64)
        self.lock_token = np.zeros(n, dtype=np.int64)
        self.load = np.zeros((n, n_ch), dtype=np.int32)  # ringing + connected, per channel
        self.cap = np.zeros((n, n_ch), dtype=np.int32)
        self.skills = np.zeros((n, max(1, len(cfg.skills))), dtype=np.uint8)
        # Counters only Python reads are plain lists (element access is several times cheaper than
        # on numpy arrays); what the kernels read stays in numpy arrays.
        self.offers: list[int] = [0] * n  # ringing offers
        self.connected: list[int] = [0] * n
        self.idle_since = np.zeros(n, dtype=np.float64)
        self.idle_rank = np.zeros(n, dtype=np.float64)  # order of becoming AVAILABLE (monotone in time)
        self.fast_queues: list[list] = [[] for _ in range(n)]  # queues indexing this agent while available
        self.answered = np.zeros(n, dtype=np.int64)
        self.talk_s = np.zeros(n, dtype=np.float64)
        self.last_end_s: list[float] = [-math.inf] * n
        self.last_offered_s: list[float] = [-math.inf] * n
        self.no_answer_run: list[int] = [0] * n  # consecutive no-answers
        self.display: list[str] = ["LOGGED_OUT"] * n
        self.queues: list[list[tuple[int, int]]] = [[] for _ in range(n)]  # (queue idx, member idx)
        self.directed: list[list[tuple]] = [[] for _ in range(n)]  # sorted wait keys of calls for this agent
        self.configs: list = list(cfg.agents)  # each row's AgentConfig (its own settings)
        self.gone: list[bool] = [False] * n  # removed (agent_remove): the row stays, unused
        for i, a in enumerate(cfg.agents):
            for s, lvl in a.skills:
                self.skills[i, skill_index[s]] = lvl
            for ch, c in a.capacity:
                self.cap[i, ch_index[ch]] = c


def _add_agent(A: "AgentArrays", a, cfg: RouterConfig) -> int:
    """Append agent ``a`` (AgentConfig) to ``A`` as ``AgentArrays.__init__`` sets each agent (logged out);
    return its index. ``cfg``: the router's configuration (skills and channels)."""
    i = len(A.ids)
    one = AgentArrays(RouterConfig(queues=(), agents=(a,), skills=cfg.skills, channels=cfg.channels))
    for name, v in vars(one).items():
        if name == "index":
            A.index[a.id] = i
        elif name == "configs" and A.configs is None:
            continue  # an engine pickled before removals: its configuration lists every row
        elif isinstance(v, np.ndarray):
            setattr(A, name, np.concatenate([getattr(A, name), v]))
        else:
            getattr(A, name).extend(v)
    return i


class QueueState:
    """A queue: its configuration as arrays, its waiting list and counters."""

    __slots__ = ("idx", "cfg", "name", "strategy", "members", "m_tier", "m_penalty", "m_pos", "m_weight",
                 "m_from_step", "member_of", "waiting", "logged_in", "rr_cursor", "req_ids", "req_min",
                 "max_penalty_by_step", "drop_by_step", "aht_est_s", "overflow_idx", "step_overflow_idx",
                 "empty_epoch", "avail", "avail_key", "base_ok", "skill_sum", "ringing", "pos_order", "pos_sorted",
                 "members_list", "ring_all_order", "ring_all_t", "paused", "m_calls", "m_last_s",
                 "join_mask", "leave_mask", "empty_steps", "leave_pending", "leave_cur")

    def __setstate__(self, state) -> None:
        _restore(self, state, {"ring_all_order": -1, "ring_all_t": -math.inf,  # ring-all joins (ring_join.py)
                               "join_mask": 0, "leave_mask": 0, "empty_steps": 0, "leave_pending": False,
                               "leave_cur": None})  # empty-queue rules (empty_ref.py)
        if not hasattr(self, "paused"):  # pickled before members could be paused in one queue
            self.paused = {}
        if not hasattr(self, "m_calls"):  # pickled before members' calls were counted per queue: none counted
            self.m_calls = np.zeros(self.members.size, dtype=np.int64)
            self.m_last_s = np.full(self.members.size, -math.inf)

    def __init__(self, idx: int, cfg: QueueConfig, agent_index: dict, skill_index: dict, queue_index: dict):
        self.idx = idx
        self.cfg = cfg
        self.name = cfg.name
        self.strategy = STRATEGY_NAMES[cfg.strategy]
        ms = cfg.members
        self.members = np.array([agent_index[m.agent] for m in ms], dtype=np.int64)
        self.m_tier = np.array([m.tier for m in ms], dtype=np.int64)
        self.m_penalty = np.array([m.penalty for m in ms], dtype=np.int64)
        self.m_pos = np.array([m.position for m in ms], dtype=np.int64)
        self.m_weight = np.array([m.weight for m in ms], dtype=np.float64)
        self.m_from_step = np.array([m.from_step for m in ms], dtype=np.int64)
        self.m_calls = np.zeros(len(ms), dtype=np.int64)  # calls each member completed from this queue
        self.m_last_s = np.full(len(ms), -math.inf)  # when the last of them ended (-inf: none yet)
        self.member_of = {int(a): i for i, a in enumerate(self.members)}
        self.waiting: list[tuple] = []  # sorted keys (-priority, arrival_s, order)
        self.logged_in = 0  # logged-in members that serve from step 0
        self.ringing = 0  # calls of this queue in state OFFERED (max_length counts them, as Asterisk's maxlen)
        self.empty_epoch = 0  # bumps when the queue gains its first logged-in agent
        self.avail = None  # heap of (strategy key, idle rank, agent) when the fast path applies
        self.pos_order = None  # round-robin fast path: member indices in (position, index) order
        self.pos_sorted: list[int] = []  # their positions, for bisect
        self.members_list = [int(a) for a in self.members]
        self.avail_key = 0  # which key (engine._INDEXED_KEY)
        self.skill_sum: list[float] = []  # most-skilled: each member's levels summed over the queue's skills
        self.base_ok: list[list[bool]] = []  # fast path: member meets the queue's skills, per escalation step
        self.rr_cursor = -1
        self.ring_all_order = -1  # ring-all: the call whose ring began at ring_all_t (ring_join.py)
        self.ring_all_t = -math.inf
        self.paused: dict[int, str] = {}  # member index -> reason: paused in this queue only (no offers)
        self.req_ids = np.array([skill_index[s] for s, _ in cfg.skills], dtype=np.int64)
        self.req_min = np.array([lvl for _, lvl in cfg.skills], dtype=np.int64)
        big = 1 << 62
        pen = cfg.max_penalty if cfg.max_penalty is not None else big
        drop = 0
        self.max_penalty_by_step = [pen]
        self.drop_by_step = [0]
        for s in cfg.escalation:
            pen = s.max_penalty if s.max_penalty is not None else pen
            drop = max(drop, s.min_level_drop)
            self.max_penalty_by_step.append(pen)
            self.drop_by_step.append(drop)
        self.aht_est_s = cfg.expected_aht_s
        self.overflow_idx = queue_index[cfg.overflow] if cfg.overflow else -1
        self.step_overflow_idx = [queue_index[s.overflow] if s.overflow else -1 for s in cfg.escalation]
        self.join_mask = empty_mask(cfg.join_empty)  # empty-queue rules (empty_ref.py)
        self.leave_mask = empty_mask(cfg.leave_when_empty)
        self.empty_steps = 0  # bit k: empty for a call at step k when last looked at (leave rule)
        self.leave_pending = False  # a walk of the waiting calls is due (T_LEAVE_WALK)
        self.leave_cur: tuple | None = None  # where it goes on: (sid, order) of a call, None: the first


NO_SKILLS = np.empty(0, dtype=np.int64)
NO_SKILLS.flags.writeable = False


class Call:
    """One call (or callback). Lives from arrival to its single terminal disposition."""

    __slots__ = ("id", "sid", "order", "queue", "priority", "req_ids", "req_min", "channel", "arrival_s",
                 "entered_s", "step", "own_ids", "own_min", "state", "offers", "agent", "preferred", "preferred_until", "context",
                 "callback", "cursor", "ring_order", "ring_gen", "qgen", "connected_s", "hops", "wait_origin_s",
                 "xfer_from")

    def __setstate__(self, state) -> None:
        _restore(self, state, {"xfer_from": -1})  # a transfer never returns to its sender

    def __init__(self, call_id: Hashable, sid: int, order: int, priority: int, arrival_s: float,
                 channel: int, context: dict[str, Any]):
        self.id = call_id
        self.sid = sid  # internal id, used by timers
        self.order = order  # global arrival order: the FIFO tie-break, kept across re-queue/transfer
        self.queue = -1
        self.priority = priority
        self.req_ids = NO_SKILLS  # shared read-only empties: no allocation per call
        self.req_min = NO_SKILLS
        self.own_ids = self.req_ids  # the call's own requirements; req_* adds the queue's
        self.own_min = self.req_min
        self.channel = channel
        self.arrival_s = arrival_s
        self.entered_s = arrival_s
        self.step = 0
        self.state = CallState.WAITING
        self.offers: dict[int, int] = {}  # agent idx -> offer token
        self.agent = -1
        self.preferred = -1
        self.preferred_until = -math.inf
        self.context = context
        self.callback: str | None = None
        self.cursor = -1  # top-down: position of the last member offered
        self.ring_order: list[int] = []  # ring-progressively: member indices still to ring
        self.ring_gen = 0  # bumps whenever a ring-progressively step timer is set
        self.wait_origin_s = arrival_s  # waits are measured from here: arrival, or the last transfer
        self.qgen = 0  # bumps on every queue entry; stale timers compare it
        self.connected_s = math.nan
        self.hops = 0  # overflow hops, to stop overflow loops
        self.xfer_from = -1  # the agent who last transferred the call: never offered it again

    def key(self) -> tuple:
        """Waiting-list key: higher priority first, then earlier arrival, then arrival order."""
        return (-self.priority, self.arrival_s, self.order)


def _restore(obj, state, later_fields: dict) -> None:
    """Unpickle a slotted engine object (server snapshots), also one pickled by an earlier busyhour whose
    class lacked ``later_fields``: those start as a new object has them."""
    _, slots = state if isinstance(state, tuple) else (None, state)
    for k, v in (slots or {}).items():
        setattr(obj, k, v)
    for k, v in later_fields.items():
        if not hasattr(obj, k):
            setattr(obj, k, v)

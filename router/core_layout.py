"""Array layout of the compiled core (docs/routing.md §15).

The compiled core keeps the whole router state in a handful of numpy arrays
grouped in :class:`CoreState`, so one numba call can run a whole batch of
operations. Per-entity data are 2-D arrays whose columns are named by the
integer constants below (numba freezes module constants, so ``A_i[a, PRES]``
costs the same as a field access).

Never renumber op, status or detail codes: they are part of the batch API.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np

# ---------------------------------------------------------------- agents (A_i int64, A_f float64)
# LOAD, CAP: ringing + connected calls and capacity summed over the channels (per channel: CoreState.LD, CA)
PRES, REASON, LOCK_KIND, LOCK_TOKEN, LOAD, CAP, OFFERS, CONN, ANSWERED, NA_RUN, DISPLAY = range(11)
A_OF_HEAD = 11  # the first of the offers ringing this agent (an OF row, -1: none), in call order (ORDER)
A_MAX_NA = 12  # the agent's own max no-answer (-1: the queue's)
A_GONE = 13  # 1: the agent was removed (agent_remove); its row stays, unused, so no index moves
DIR_HEAD = 14  # first of the waiting calls directed to this agent (preferred agent, agent transfer), or -1
N_A_I = 15
LOCK_UNTIL, IDLE_SINCE, IDLE_RANK, TALK, LAST_END, LAST_OFFERED = range(6)
# The agent's own wrap-up and reject/busy/no-answer delays (NaN: the queue's)
A_WRAP, A_REJ_DELAY, A_BUSY_DELAY, A_NA_DELAY = range(6, 10)
N_A_F = 10

# Display codes (A_i[:, DISPLAY]); NOT_READY is DISP_NOT_READY + reason code.
DISP_LOGGED_OUT, DISP_AVAILABLE, DISP_RESERVED, DISP_BUSY, DISP_WRAP_UP = 0, 2, 3, 4, 5
DISP_NOT_READY = 16

# ---------------------------------------------------------------- queues (Q_i int64, Q_f float64)
KEYKIND, MAX_NA, MAX_LEN, OVERFLOW, BLOCKED, LOGGED_IN, RINGING, NWAIT = range(8)
AH_OFF, AH_CAP, AH_LEN, W_ROOT, W_HEAD = range(8, 13)  # W_*: the waiting tree's root and first call (-1: none)
# STRAT: codes.STRAT_*; SCAN: 1 when a member scan routes (else the available-member heap); RR_CURSOR: round-robin
STRAT, SCAN, RR_CURSOR = range(13, 16)
EMPTY_EPOCH = 16  # bumps when the queue gains its first logged-in agent (no-agents timers set before are void)
NSTEPS = 17  # escalation steps (their times and overflows: ESC_f / ESC_i rows)
DEDICATED = 18  # preferred-agent: the dedicated agent, or -1
NSPECIAL = 19  # waiting calls whose eligibility is their own (an active preferred agent); see SPECIAL
RA_SLOT, RA_ORDER = 20, 21  # ring-all: the call (slot, global order) whose ring began at Q_f RA_T (ring_join)
Q_GONE = 22  # 1: the queue was removed (queue_remove); its row stays, with no members, so no index moves
AH_HEAD = 23  # longest idle (KEYKIND 0): where the in-order list of available members starts (core_avail.py)
N_Q_I = 24
WEIGHT, RING_TO, WRAP, REJ_DELAY, BUSY_DELAY, NA_DELAY, MAX_WAIT, AHT = range(8)
NO_AGENTS_S = 8  # max_wait_no_agents_s
RING_STEP = 9  # ring-progressively: seconds between adding agents
PREF_FB = 10  # preferred_fallback_s
RA_T = 11  # ring-all: when the ring of RA_SLOT began (-inf: none yet)
N_Q_F = 12

# ---------------------------------------------------------------- members (QM int64, QM_f float64), by queue
QM_AGENT, QM_OK, QM_TIER, QM_PEN, QM_POS = range(5)  # QM_OK: QOK[m, 0], kept in the layout, read by nothing
# (core_kernels.serves reads QOK and the pause together)
QM_FROM = 5  # the escalation step from which the member serves (0: always; it counts as logged in)
QM_PAUSED = 6  # paused in this queue: 1 + the reason's code (0: not paused); no offers of its calls
QM_CALLS = 7  # calls the member completed from this queue (released or transferred): Asterisk's fewestcalls
N_QM = 8
# QOK[member row, step]: QOK_ON if the member may take a call at escalation step ``step`` (from_step, max
# penalty and skills with the step's level drop; column 0's bit equals QM_OK), plus QOK_PAUSED in every column
# while the member is paused in its queue (QM_PAUSED keeps the reason). A decision reads that one byte
# (core_kernels.serves: QOK[m, step] == QOK_ON), not the member's row, which is cold on a large floor.
QOK_ON, QOK_PAUSED = 1, 2
QM_SKILL_SUM, QM_WEIGHT = 0, 1  # QM_f: levels summed over the queue's skills; weighted-random weight
QM_LAST_CALL = 2  # QM_f: when the member's last call from this queue ended (-inf: none): Asterisk's leastrecent
N_QM_F = 3

# ---------------------------------------------------------------- calls (C_i int64, C_f float64), by slot
EXT, ORDER, QUEUE, PRIO, STATE, AGENT, OF_FIRST, QGEN, HOPS = range(9)
W_LEFT, W_RIGHT, W_UP, W_SIZE, W_PRI = range(9, 14)  # the call's node in its queue's waiting tree (core_wait.py)
CURSOR = 14  # top-down: position of the member last offered this call (-1: none yet)
STEP = 15  # escalation step reached in the current queue
CB = 16  # callback: the number's code (Router.number_code), 0 for a caller on the line
# Ringing: OF_FIRST is the call's first offer (an OF row, -1: none), OF_LAST its last, NOFF how many; a
# ring-progressively call's agents still to ring are RO[RO_OFF : RO_OFF + RO_LEN] (member rows);
# RING_GEN takes a fresh S_GEN value whenever its step timer is set (an older one, or one of a call that used
# the slot before, is void).
NOFF, OF_LAST, RO_OFF, RO_LEN, RING_GEN = 17, 18, 19, 20, 21
# PREF: the preferred agent (-1: none), served alone until C_f PREF_UNTIL; while it waits with an active
# preference the call is also in that agent's directed list (DIR_NEXT/DIR_PREV, IN_DIR) and SPECIAL
# (counted in its queue's NSPECIAL: a freed agent then checks each waiting call, not only the first).
PREF, DIR_NEXT, DIR_PREV, IN_DIR, SPECIAL = 22, 23, 24, 25, 26
XFER = 27  # the agent who last transferred the call (-1: none): never offered it again (SPECIAL too)
SKP = 28  # the call's own requirements: a row of CP and PCH (0: voice, no own skills); SPECIAL while it waits
CH = 29  # the call's channel (PCH[SKP]; 0 is voice)
N_C_I = 30
ARRIVAL, ENTERED, CONNECTED_S, WAIT_ORIGIN, PREF_UNTIL = range(5)
N_C_F = 5
ST_WAITING, ST_OFFERED, ST_CONNECTED, ST_ENDED, ST_FREE = 0, 1, 2, 3, 4

# ---------------------------------------------------------------- offers (OF int64), one row per ringing offer
# A call's offers form a list in the order they were made (OF_FIRST .. OF_LAST through O_CNEXT: the order of
# the Python engine's ``call.offers``); an agent's, a list in call order (A_OF_HEAD through O_ANEXT: the order
# in which the Python engine withdraws them). Free rows are stacked in OFREE (S_OF_NFREE of them).
O_SLOT, O_AGENT, O_TOKEN, O_CNEXT, O_ANEXT = range(5)  # O_TOKEN: the offer's token (0: a free row)
N_OF = 5

# ---------------------------------------------------------------- timers (TM_t float64, TM_i int64)
# T_RING: TTARGET the call slot, TTOKEN the offer's token, TARG its OF row
TSEQ, TKIND, TTARGET, TTOKEN, TARG = range(5)
N_TM_I = 5
T_RING, T_LOCK_END, T_MAX_WAIT, T_NO_AGENTS, T_ESCALATE, T_PREF_FALLBACK, T_RING_STEP = 1, 2, 3, 4, 5, 6, 7
# T_CALL_LIMIT: the call's own max wait from its arrival (TTARGET its slot, TTOKEN its ORDER: a call that used
# the slot before, or one answered since, voids it)
T_CALL_LIMIT = 8
# Timer lanes (core_timers.py): ring timeouts (lane 0) and wrap-up/delay lock ends (lane 1) are mostly set in
# deadline order, so each kind keeps such timers in a list in that order instead of the heap. TL_t (lanes,
# rows) their deadlines, TL_i (lanes, rows, N_TM_I) the rest as in TM_i; TL_p (lanes, 3) each lane's first
# row in use, the row after its last, and 1 while it is shut (the heap takes its timers until it empties).
LANE_HEAD, LANE_END, LANE_SHUT = range(3)
N_LANES = 2

# ---------------------------------------------------------------- events (EV_i int64, EV_f float64)
E_SEQ, E_KIND, E_CALL, E_AGENT, E_QUEUE, E_DETAIL = range(6)
N_EV_I = 6
E_TIME, E_VALUE = 0, 1
N_EV_F = 2
NO_ID = -(1 << 62)  # "no call" in E_CALL; it and NO_ID + 1 are reserved, every other int64 is a call id
H_EMPTY, H_TOMB = NO_ID, NO_ID + 1  # call-id table: a free row, a deleted row

# Detail codes (EV_i[:, E_DETAIL]). Overflow targets are DETAIL_QUEUE + queue index; agent
# display states are DETAIL_DISPLAY + display code (NOT_READY reasons included).
DETAILS = ("", "overflow", "busy", "reject", "caller-abandoned", "agent-logged-out", "agent-not-ready", "exit",
           "completed", "abandoned", "abandoned-ringing", "exited:timeout", "rejected:queue-full",
           "exited:queue-full", "exited:no-agents", "rejected:no-agents", "escalation", "exited:escalation",
           "exited:callback-cancelled", "answered-elsewhere", "transfer", "moved")
D_NONE, D_OVERFLOW, D_BUSY, D_REJECT, D_CALLER_ABANDONED, D_LOGGED_OUT, D_NOT_READY, D_EXIT = range(8)
D_COMPLETED, D_ABANDONED, D_ABANDONED_RINGING, D_EXIT_TIMEOUT, D_REJ_FULL, D_EXIT_FULL = range(8, 14)
D_EXIT_NO_AGENTS, D_REJ_NO_AGENTS, D_ESCALATION, D_EXIT_ESCALATION, D_CB_CANCELLED = 14, 15, 16, 17, 18
D_ANSWERED_ELSEWHERE, D_TRANSFER, D_MOVED = 19, 20, 21
DETAIL_STEP = 1 << 19  # CALL_ESCALATED: DETAIL_STEP + the step reached
DETAIL_QUEUE = 1 << 20
DETAIL_DISPLAY = 1 << 21
DETAIL_REASON = 1 << 22  # MEMBER_PAUSED: DETAIL_REASON + the reason's code
DETAIL_TO_QUEUE, DETAIL_TO_AGENT = 1 << 23, 1 << 24  # CALL_TRANSFERRED: "queue:NAME" / "agent:ID" + index
DETAIL_NUMBER = 1 << 25  # callbacks: DETAIL_NUMBER + the number's code (the highest range of the int32)
MAX_NUMBER_CODES = (1 << 31) - DETAIL_NUMBER  # callback numbers a router can register

# ---------------------------------------------------------------- scalars (S_i int64, S_f float64)
S_SEQ, S_RANK, S_TSEQ, S_TOKEN, S_ORDER, S_GEN, S_NT, S_NEV, S_NFREE, S_ARRIVED, S_ENDED, S_NPROF = range(12)
# S_NPROF: skill profiles registered by the facade (rows of CP in use; row 0 is "no own skills")
S_EV_ROOM, S_TM_ROOM, S_RESUME = 12, 13, 14  # room one step may need (events, timers); op resumed after a pause
S_HUSED = 15  # call-id table rows in use (live ids and tombstones)
S_NREASONS = 16  # not-ready reason codes registered by the facade
# A logout that emptied queues with a no-agents limit finishes after its own step: S_TAIL 1 while it does,
# S_TAIL_K the agent's queue row it is at, S_TAIL_FIRING 1 once that queue's timers are set (d = 0: firing);
# S_TM_NEED the timer rows it needs before it can set them (the facade grows the timer heap).
S_TAIL, S_TAIL_K, S_TAIL_FIRING, S_TM_NEED = 17, 18, 19, 20
S_NNUMBERS = 21  # callback number codes registered by the facade (code 0 means none)
# RO (ring orders): rows in use (a bump pointer; the facade compacts), and the room one step may need.
S_RO_USED, S_RO_ROOM = 22, 23
S_OF_NFREE, S_OF_ROOM = 24, 25  # free offer rows; the rows one step may need
# An accept, reject or callback with timers due before it: whether it is refused depends on what they do, so
# the facade first runs it on a copy (S_TRIAL 1: the batch stopped at it); S_TRIED 1: it passed, run it.
S_TRIAL, S_TRIED = 26, 27
S_LEAVE_TAIL = 28  # 1 while a row fires what it made due at its own time (core_batch.run_batch; empty queues)
# S_TM_SWEEP: the timer rows at which the core's next step first sweeps out void timers (core_timers.sweep);
# S_TM_SWEEP_MIN the fewest rows a sweep waits for (0: core_timers.SWEEP_MIN).
S_TM_SWEEP, S_TM_SWEEP_MIN = 29, 30
N_S_I = 31
S_NOW = 0
N_S_F = 1

# Reason codes: 0 is "login", 1 "no-answer"; the facade registers the others as they are used.
REASON_LOGIN, REASON_NO_ANSWER = 0, 1

# ---------------------------------------------------------------- batch operations
OP_ARRIVE, OP_ACCEPT, OP_REJECT, OP_RELEASE, OP_ABANDON = 1, 2, 3, 4, 5
OP_LOGIN, OP_LOGOUT, OP_READY, OP_NOT_READY, OP_ADVANCE = 6, 7, 8, 9, 10
OP_CALLBACK, OP_TRANSFER = 11, 12
OP_PAUSE, OP_UNPAUSE = 13, 14  # a member paused / unpaused in one queue (``agent``, ``queue``)
OP_PRIORITY = 15  # a waiting or ringing call's new priority (``priority``)
# A queue membership change, after the facade swapped the member tables (fast_members.py): ``agent``,
# ``queue``, ``arg`` the kind (membership.ADD / REMOVE / UPDATE), ``priority`` 1 if the agent staffed the
# queue before. Only the facade builds these rows; Router.submit refuses them.
OP_MEMBER = 16
# A queue's settings changed, after the facade set its columns and member tables (fast_members.py): one row
# with ``agent`` -1 (the event), then one per member with ``agent`` the member (offered what it may now take).
# ``arg`` QUEUE_REMOVED_ARG: the queue was removed (its members and calls gone first); QUEUE_ADDED_ARG: it was
# added (fast_queues.py).
OP_QUEUE = 17
QUEUE_REMOVED_ARG, QUEUE_ADDED_ARG = 1, 2
OP_MOVE = 18  # a waiting or ringing call moved to queue ``queue`` (call_move)
OP_AGENT = 19  # agent ``agent`` was added (the facade grew the agent tables first: agent_add)
OP_NAMES = {OP_ARRIVE: "arrive", OP_ACCEPT: "accept", OP_REJECT: "reject", OP_RELEASE: "release",
            OP_ABANDON: "abandon", OP_LOGIN: "login", OP_LOGOUT: "logout", OP_READY: "ready",
            OP_NOT_READY: "not_ready", OP_ADVANCE: "advance", OP_CALLBACK: "callback",
            OP_TRANSFER: "transfer", OP_PAUSE: "pause", OP_UNPAUSE: "unpause", OP_PRIORITY: "priority",
            OP_MEMBER: "member", OP_QUEUE: "queue", OP_MOVE: "move", OP_AGENT: "agent"}

#: One operation per row. ``arg``: arrive → the preferred agent's fallback seconds (NaN: the queue's;
#: ``agent`` the preferred agent or -1); release → wrap-up seconds (NaN: the queue's); reject → 1 if busy;
#: login → 1 if ready; not_ready and pause → reason code (:meth:`Router.reason_code`); callback → the
#: number's code (:meth:`Router.number_code`); transfer → fallback seconds of the target ``agent``
#: (inf: never; ``queue`` the target queue, -1 for the call's own, ``agent`` -1 for none). An arrive's own
#: skills travel beside the rows: ``Router.submit(ops, skills=…)`` takes one profile code per row
#: (:meth:`Router.skill_profile`; 0: none), so arrays built for this dtype keep working.
OP_DTYPE = np.dtype([("op", np.int8), ("time_s", np.float64), ("call", np.int64), ("agent", np.int32),
                     ("queue", np.int32), ("priority", np.int32), ("arg", np.float64)])
#: One OP_DTYPE row as ``struct`` packs it (the per-call methods write their row's bytes with it).
OP_ROW = struct.Struct("<bdqiiid")
assert OP_ROW.pack(-2, 1.5, -3, 4, -5, 6, 7.5) == np.array([(-2, 1.5, -3, 4, -5, 6, 7.5)], OP_DTYPE).tobytes()

#: One event per row; ``call`` is NO_ID when the event has no call, ``agent``/``queue`` -1 when none.
EVENT_DTYPE = np.dtype([("seq", np.int64), ("time_s", np.float64), ("kind", np.int8), ("call", np.int64),
                        ("agent", np.int32), ("queue", np.int32), ("detail", np.int32), ("value", np.float64)])

#: Times (seconds) are finite and within ±MAX_TIME_S (about 31,700 years): room for Unix-epoch seconds, and
#: an interval number ``time // interval_s`` (interval_s >= 1) stays an exact integer.
MAX_TIME_S = 1e12

# Status of each operation (0 = done). The facade turns them into RouterError subclasses.
OK = 0
ERR_TIME = 1  # now not finite, beyond ±MAX_TIME_S or before the last time
ERR_UNKNOWN_CALL = 2
ERR_UNKNOWN_AGENT = 3
ERR_UNKNOWN_QUEUE = 4
ERR_DUPLICATE_CALL = 5
ERR_NO_OFFER = 6  # accept/reject with no ringing offer to that agent
ERR_CALL_GONE = 7  # the call ends in the timers due before this operation (found on a trial copy)
ERR_NOT_CONNECTED = 8
ERR_LOGGED_IN = 9
ERR_LOGGED_OUT = 10
ERR_HAS_CALLS = 11
ERR_BAD_OP = 12
ERR_BAD_ARG = 13
ERR_CONNECTED_ELSEWHERE = 14
ERR_NOT_WAITING = 15  # callback: the call is not waiting, or is a callback already
ERR_SAME_AGENT = 16  # transfer to the agent already connected
ERR_NOT_MEMBER = 17  # pause / unpause: the agent is not a member of the queue
ERR_PAUSED = 18  # pause: paused in that queue already
ERR_NOT_PAUSED = 19  # unpause: not paused in that queue
ERR_ANSWERED = 20  # priority: the call is connected (only a waiting or ringing call's priority changes)
ERR_MEMBERSHIP = 21  # OP_MEMBER: the member tables do not show the change (a row not built by the facade)
ERR_SAME_QUEUE = 22  # move: the call is in that queue already
ERR_QUEUE_GONE = 23  # transfer: the call's own queue was removed (queue_remove), and no other queue is named
NOT_RUN = -1  # the batch stopped before this operation (room must grow first)


class CoreState(NamedTuple):
    """Every array of the compiled core's state (see the column constants above)."""

    A_i: np.ndarray
    A_f: np.ndarray
    AQ_ptr: np.ndarray  # agent -> its (queue, member, QOK[m, 0]) rows in AQ (the last kept, read by nothing)
    AQ: np.ndarray
    Q_i: np.ndarray
    Q_f: np.ndarray
    QM_ptr: np.ndarray  # queue -> its member rows in QM / QM_f
    QM: np.ndarray
    QM_f: np.ndarray
    AH_f: np.ndarray  # available-member heaps: (key, rank)
    AH_i: np.ndarray  # (agent, member)
    C_i: np.ndarray
    C_f: np.ndarray
    FREE: np.ndarray  # stack of free call slots
    TM_t: np.ndarray
    TM_i: np.ndarray
    EV_i: np.ndarray
    EV_f: np.ndarray
    S_i: np.ndarray
    S_f: np.ndarray
    HK: np.ndarray  # call-id table (open addressing, linear probing): external id, or H_EMPTY / H_TOMB
    HV: np.ndarray  # its call slot
    RNG: np.ndarray  # the random strategies' splitmix64 state (uint64[1], from the configuration's seed)
    QOK: np.ndarray  # (member rows, steps + 1) uint8: see QM_FROM
    ESC_f: np.ndarray  # (queues, max steps) escalation step times after entering the queue, seconds
    ESC_i: np.ndarray  # (queues, max steps) escalation step overflow target queue, or -1
    RO: np.ndarray  # ring orders of ring-progressively calls (member rows), then scratch room
    SK: np.ndarray  # (agents, skills) uint8 skill levels
    QS_ptr: np.ndarray  # queue -> its required skills' rows in QS
    QS: np.ndarray  # (skill, minimum level)
    DROP: np.ndarray  # (queues, steps + 1) skill-level drop at each escalation step
    # Per-call skill profiles: row p = (n, skill id, minimum level, skill id, minimum level, …), n pairs;
    # row 0 is empty (a call without its own skills). None only in a state pickled before profiles existed
    # (Router.__setstate__ upgrades it).
    CP: np.ndarray = None
    # Each profile's channel (0: voice); the offer table and its free rows; ringing + connected calls and
    # capacity per (agent, channel). None only in a state pickled before multi-channel agents
    # (Router.__setstate__ upgrades it).
    PCH: np.ndarray = None
    OF: np.ndarray = None
    OFREE: np.ndarray = None
    LD: np.ndarray = None
    CA: np.ndarray = None
    # Each profile's own max wait in seconds (inf: none), from the call's arrival. None only in a state pickled
    # before calls had one (Router.__setstate__ upgrades it).
    PLIM: np.ndarray = None
    # The queues' join and leave rules for an empty queue (empty.py: LE_* columns), one row per queue, or no
    # rows while no queue has one. None only in a state pickled before they existed (core_upgrade).
    LE: np.ndarray = None
    # Per agent: its IDLE_RANK while it is AVAILABLE, else NaN. The available-member lists and heaps
    # (core_avail.py) check their entries against this one dense array (8 bytes an agent) instead of each agent's
    # own rows, which are cold on a large floor. None only in a state pickled before it existed (core_upgrade).
    AV: np.ndarray = None
    # The timer lanes (TL_*, above). None only in a state pickled before they existed (core_upgrade: empty lanes).
    TL_t: np.ndarray = None
    TL_i: np.ndarray = None
    TL_p: np.ndarray = None

# ---------------------------------------------------------------- empty queues (empty.py, core_empty.py)
# T_LEAVE_CALL: a waiting call checks whether its queue is empty for it (TTARGET its slot, TTOKEN its QGEN);
# T_LEAVE_WALK: queue TTARGET's waiting calls leave one by one while it is empty for them (CoreState.LE).
T_LEAVE_CALL, T_LEAVE_WALK = 9, 10

"""Router's errors: a batch row's status code as the exception (and message) the reference engine raises."""

from __future__ import annotations

from typing import Any

import numpy as np

from .core_layout import (
    ERR_ANSWERED, ERR_BAD_ARG, ERR_CALL_GONE, ERR_CONNECTED_ELSEWHERE, ERR_DUPLICATE_CALL, ERR_HAS_CALLS, ERR_LOGGED_IN,
    ERR_LOGGED_OUT, ERR_MEMBERSHIP, ERR_NOT_MEMBER, ERR_QUEUE_GONE, ERR_SAME_QUEUE, OP_MOVE, ERR_NOT_PAUSED, ERR_PAUSED, ERR_NO_OFFER, ERR_NOT_CONNECTED, ERR_NOT_WAITING, ERR_SAME_AGENT, ERR_TIME, ERR_UNKNOWN_AGENT,
    ERR_UNKNOWN_CALL, ERR_UNKNOWN_QUEUE, NO_ID, NOT_RUN, OP_ACCEPT, OP_AGENT, OP_DTYPE, OP_MEMBER, OP_CALLBACK, OP_LOGOUT, OP_PRIORITY, OP_REJECT, OP_RELEASE,
    OP_TRANSFER,
)
from .core_cache import jit_disabled
from .core_jit import Direct
from .core_kernels import batch_flags
from .errors import OfferError, StateError, TimeError, UnknownIdError, real_seconds
from .fast_ids import FIRST_OWN_ID


_TABLE_OPS_FROM = min(OP_MEMBER, OP_AGENT)
#: core_kernels.batch_flags called straight (core_jit.Direct); None without the JIT, where the numpy form is faster.
_BATCH_FLAGS = None if jit_disabled() else Direct(batch_flags)


def batch_flags_numpy(ops: np.ndarray) -> int:
    """core_kernels.batch_flags with numpy (its reference): 1 if a row is OP_MEMBER or OP_AGENT, plus 2 if a call
    id is below NO_ID. Only codes from _TABLE_OPS_FROM up can be table rows."""
    o = ops["op"]
    member = int(o.max()) >= _TABLE_OPS_FROM and bool(((o == OP_MEMBER) | (o == OP_AGENT)).any())
    return int(member) | (2 if int(ops["call"].min()) < NO_ID else 0)


def check_batch(ops: Any, skills: Any) -> np.ndarray:
    """``Router.submit``'s checks of a batch before any row runs (a StateError naming the problem); ``ops`` in the
    layout the core's direct call is bound to. The rows are read by one compiled pass (core_kernels.batch_flags,
    ~0.25 µs for one row, less than reading its two fields as scalars)."""
    if not isinstance(ops, np.ndarray) or ops.dtype != OP_DTYPE or ops.ndim != 1:
        raise StateError("ops must be a 1-D numpy array of busyhour.router.OP_DTYPE")
    if not ops.flags.carray:  # C-contiguous, aligned and writeable (np.require's own test costs ~1 µs more)
        ops = np.require(ops, requirements=("C", "A", "W"))
    if skills is not None and not (isinstance(skills, np.ndarray) and skills.ndim == 1
                                   and skills.shape == ops.shape and skills.dtype.kind in "iu"):
        raise StateError("skills must be a 1-D integer numpy array with one profile code per row of ops")
    flags = 0 if not ops.shape[0] else _BATCH_FLAGS(ops) if _BATCH_FLAGS is not None else batch_flags_numpy(ops)
    if flags & 1:
        raise StateError("ops: OP_MEMBER and OP_AGENT rows are built by member_add / member_remove / "
                         "member_update / agent_add / agent_remove, which change the tables first; call those")
    if flags & 2:
        raise StateError(f"ops: call ids below {FIRST_OWN_ID - 2} are reserved for the ids the per-call "
                         "methods map (router/fast_ids.py); a batch's call ids are integers from "
                         f"{FIRST_OWN_ID} to 2**63 - 1")
    return ops


def row_error(r: Any, st: int, op: int, now: float, call: int, agent: int, queue: int = -1) -> Exception:
    """The exception for status ``st`` of operation ``op`` on Router ``r`` (never naming a sentinel), with
    the reference engine's message. ``r`` gives ``agent_ids``, ``now``, ``_ended``, ``agent_state`` and the call and agent
    facts ``_callback_state``, ``_call_state_name``, ``_call_agent``, ``_agent_calls`` (ids as in ``call``)."""
    aid = r.agent_ids[agent] if agent >= 0 else None
    if st == ERR_TIME:
        try:
            real_seconds(now)  # not finite or beyond the bound: the per-call methods' own message
        except TimeError as exc:
            return exc
        return TimeError(f"time went backwards: now={now!r} is before the last time {r.now!r}")
    if st == ERR_UNKNOWN_CALL:
        ended = r._ended.get(call)
        if ended is None:
            return UnknownIdError(f"unknown call {call!r} (never arrived, or ended long ago)")
        if op in (OP_ACCEPT, OP_REJECT):
            return OfferError(f"call {call!r} has already ended ({ended}); agent {aid!r} answered too late")
        return StateError(f"call {call!r} has already ended ({ended})")
    text = _STATE_TEXTS.get((st, op)) or _STATE_TEXTS.get((st, None))
    if text is not None:
        return StateError(text.format(call=call, aid=aid, qname=r.queue_names[queue] if queue >= 0 else None))
    if st == ERR_DUPLICATE_CALL:
        return StateError(f"call {call!r} is already in the system (state {r._call_state_name(call)})")
    if st == ERR_CALL_GONE and op in (OP_ACCEPT, OP_REJECT):
        return OfferError(f"call {call!r} ended before agent {aid!r} answered")
    if st == ERR_NO_OFFER:
        return OfferError(f"no offer of call {call!r} to agent {aid!r} is ringing "
                          "(never made, expired, withdrawn or already answered)")
    if st == ERR_CONNECTED_ELSEWHERE:
        return OfferError(f"call {call!r} is already connected to agent {r._call_agent(call)!r}")
    if st in (ERR_UNKNOWN_AGENT, ERR_UNKNOWN_QUEUE):
        return UnknownIdError(MESSAGES[st])
    if st == ERR_NOT_CONNECTED and op in (OP_TRANSFER, OP_RELEASE):
        verb = "transferred" if op == OP_TRANSFER else "released"
        return StateError(f"call {call!r} cannot be {verb}: it is {r._call_state_name(call)}, not CONNECTED")
    if st == ERR_LOGGED_IN:
        return StateError(f"agent {aid!r} is already logged in ({r.agent_state(aid)})")
    if st == ERR_LOGGED_OUT:
        if op == OP_LOGOUT:
            return StateError(f"agent {aid!r} is not logged in")
        return StateError(f"agent {aid!r} is logged out; log in first")
    if st == ERR_HAS_CALLS:
        return StateError(f"agent {aid!r} has {r._agent_calls(aid)} connected call(s); "
                          "release or transfer them before logging out")
    if st == ERR_NOT_WAITING:
        return StateError(f"call {call!r} cannot become a callback: it is "
                          f"{r._callback_state(call)}, not a waiting call")
    who = " / ".join(([f"call {call!r}"] if call != NO_ID else []) + ([f"agent {aid!r}"] if agent >= 0 else []))
    return StateError(f"{who + ': ' if who else ''}{MESSAGES.get(st, 'error ' + str(st))}")


#: (status, operation or None for any) -> the StateError's text, formatted with call, aid and qname (reprs)
_STATE_TEXTS = {
    (ERR_ANSWERED, OP_MOVE): "call {call!r} is connected: transfer it to move it to another queue",
    (ERR_ANSWERED, None): "call {call!r} is connected: only a waiting or ringing call's priority can change",
    (ERR_CALL_GONE, OP_MOVE): "call {call!r} ended before it could be moved",
    (ERR_SAME_QUEUE, None): "call {call!r} is in queue {qname!r} already",
    (ERR_CALL_GONE, OP_PRIORITY): "call {call!r} ended before its priority could change",
    (ERR_CALL_GONE, OP_CALLBACK): "call {call!r} ended before the callback request",
    (ERR_CALL_GONE, OP_RELEASE): "call {call!r} ended before it could be released",
    (ERR_CALL_GONE, OP_TRANSFER): "call {call!r} ended before it could be transferred",
    (ERR_SAME_AGENT, None): "call {call!r} is already connected to agent {aid!r}",
    (ERR_QUEUE_GONE, None): "call {call!r}: its queue was removed; name the queue to transfer it to (queue=…)",
    (ERR_NOT_MEMBER, None): "agent {aid!r} is not a member of queue {qname!r}",
    (ERR_PAUSED, None): "agent {aid!r} is already paused in queue {qname!r}; unpause it first",
    (ERR_NOT_PAUSED, None): "agent {aid!r} is not paused in queue {qname!r}",
}

MESSAGES = {
    ERR_TIME: "time is not finite, is beyond ±1e12 s, or is before the router's last time",
    ERR_UNKNOWN_CALL: "unknown call (never arrived, or already ended)",
    ERR_UNKNOWN_AGENT: "unknown agent index",
    ERR_UNKNOWN_QUEUE: "unknown queue index",
    ERR_DUPLICATE_CALL: "a call with this id is already in the system",
    ERR_NO_OFFER: "no offer of this call to this agent is ringing (never made, expired, withdrawn or answered)",
    ERR_CONNECTED_ELSEWHERE: "the call is already connected to another agent",
    ERR_NOT_WAITING: "the call is not waiting, or is a callback already",
    ERR_SAME_AGENT: "the call is already connected to this agent",
    ERR_CALL_GONE: "the call ended before this operation (a timer due by then ended it)",
    ERR_NOT_CONNECTED: "the call is not CONNECTED",
    ERR_LOGGED_IN: "the agent is already logged in",
    ERR_LOGGED_OUT: "the agent is logged out; log in first",
    ERR_HAS_CALLS: "the agent has a connected call; release or transfer it before logging out",
    ERR_NOT_MEMBER: "the agent is not a member of the queue",
    ERR_PAUSED: "the agent is paused in the queue already",
    ERR_NOT_PAUSED: "the agent is not paused in the queue",
    ERR_ANSWERED: "the call is connected: only a waiting or ringing call's priority changes",
    ERR_SAME_QUEUE: "the call is in that queue already",
    ERR_QUEUE_GONE: "the call's queue was removed; name the queue to transfer it to",
    ERR_MEMBERSHIP: "the queue's member tables do not show this membership change (OP_MEMBER rows are the facade's)",
    ERR_BAD_ARG: ("bad argument (a reserved call id NO_ID or NO_ID + 1, a wrap-up not finite >= 0, a login or "
                  "reject flag other than 0 or 1, a reason code reason_code() did not give, a callback "
                  "number code number_code() did not give, or a skill profile skill_profile() did not give)"),
    NOT_RUN: "not run",
}

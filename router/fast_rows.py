"""Router's row builders: the checks of one per-call operation and its ``OP_DTYPE`` row.

Each builder takes a call id already resolved to the core's int64 id and
returns ``(op, now, call, agent, queue, priority, arg)`` (``arrive_row`` also
the call's skill profile code), raising the error
:class:`~busyhour.router.ReferenceRouter` raises for a bad argument. Router's
per-call methods run one row; drivers that collect many (the server's
compiled engine) run them together. ``now`` is checked by the core.
"""

from __future__ import annotations

import math
from typing import Any, Hashable

import numpy as np

from .calls import check_arrival_extras, check_max_wait, check_priority, parse_call_skills
from .core_layout import (
    NO_ID, OP_ARRIVE, OP_CALLBACK, OP_PRIORITY, OP_LOGIN, OP_NOT_READY, OP_REJECT, OP_RELEASE, OP_TRANSFER, S_NPROF,
)
from .errors import StateError, TimeError, UnknownIdError, flag, real_seconds

MAX_SKILL_PROFILES = 1_000_000  # distinct per-call skill requirements one router registers, at most …
MAX_PROFILE_BYTES = 64 << 20  # … and no more than its profile table can hold in this much memory
_PRIORITY_BOUND = 1 << 31  # check_priority: a 32-bit integer


class RowBuilders:
    """Mixed into Router: uses its queue_index, agent_index, reason_code, number_code, _slot, now, config,
    _S, _skill_index, _channel_index and _profiles."""

    def skill_profile(self, skills: dict[str, int] | None, channel: str = "voice",
                      max_wait_s: float | None = None) -> int:
        """The code of a call's own requirements — its skills (skill name -> minimum level), its channel and
        its own max wait — for the ``skills`` array of :meth:`submit`: 0 for none on voice; registered on
        first use and kept for the router's life, at most :meth:`max_skill_profiles` distinct ones. Bad
        input gets ``call_arrive``'s error."""
        if skills is None and max_wait_s is None and type(channel) is str and channel == "voice" \
                and "voice" in self.config.channels and self._channel_index.get("voice") == 0:
            return 0  # the common case, without the checks below
        ids, mins = parse_call_skills(skills, self._skill_index)
        if not isinstance(channel, str) or channel not in self.config.channels:
            raise UnknownIdError(f"unknown channel {channel!r} (channels: {', '.join(self.config.channels)})")
        limit_s = check_max_wait(max_wait_s)
        ch = self._channel_index[channel]
        if ids.size == 0 and ch == 0 and limit_s == math.inf:
            return 0
        pairs = sorted(zip(ids.tolist(), mins.tolist()))
        key = (ch, *pairs) if limit_s == math.inf else (ch, *pairs, limit_s)  # pickled keys have no limit
        code = self._profiles.get(key)
        if code is not None:
            return code
        code = len(self._profiles) + 1
        if code > self.max_skill_profiles():
            raise StateError(f"this router has registered {code - 1:,} distinct per-call requirements (skills "
                             "and channel), its limit")
        S = self._S
        if code >= S.CP.shape[0]:
            grown = np.zeros((2 * S.CP.shape[0], S.CP.shape[1]), dtype=np.int64)
            grown[:S.CP.shape[0]] = S.CP
            pch = np.zeros(grown.shape[0], dtype=np.int64)
            pch[:S.PCH.shape[0]] = S.PCH
            plim = np.full(grown.shape[0], np.inf)
            plim[:S.PLIM.shape[0]] = S.PLIM
            self._S = S = S._replace(CP=grown, PCH=pch, PLIM=plim)
        S.CP[code, 0] = len(pairs)
        for k, (skill, level) in enumerate(pairs):
            S.CP[code, 1 + 2 * k], S.CP[code, 2 + 2 * k] = skill, level
        S.PCH[code] = ch
        S.PLIM[code] = limit_s
        self._profiles[key] = code
        S.S_i[S_NPROF] = code + 1
        return code

    def max_skill_profiles(self) -> int:
        """How many distinct per-call skill requirements this router registers: ``MAX_SKILL_PROFILES``, fewer
        when the configuration has so many skills that their table would pass ``MAX_PROFILE_BYTES``."""
        return min(MAX_SKILL_PROFILES - 1, MAX_PROFILE_BYTES // (8 * (1 + 2 * max(1, len(self.config.skills)))) - 1)

    def arrive_row(self, now: float, cid: int, queue: str, priority: int = 0, skills: dict | None = None,
                   channel: str = "voice", preferred_agent: Hashable = None,
                   preferred_fallback_s: float | None = None, context: dict | None = None,
                   max_wait_s: float | None = None) -> tuple[tuple, int]:
        """(the row, the call's skill profile code)."""
        q = self.queue_index(queue)
        if type(priority) is not int or not -_PRIORITY_BOUND < priority < _PRIORITY_BOUND:  # else surely fine
            check_priority(priority)
        prof = self.skill_profile(skills, channel, max_wait_s)
        pref = self.agent_index(preferred_agent) if preferred_agent is not None else -1
        if preferred_fallback_s is not None or context is not None:  # else nothing to check
            check_arrival_extras(preferred_fallback_s, context)
        fallback_s = math.nan if preferred_fallback_s is None else float(preferred_fallback_s)
        return (OP_ARRIVE, now, cid, pref, q, priority, fallback_s), prof

    def answer_row(self, op: int, now: float, cid: int, agent_id: Hashable, busy: bool = False) -> tuple:
        arg = float(flag(busy, "busy")) if op == OP_REJECT else 0.0
        return (op, now, cid, self.agent_index(agent_id), -1, 0, arg)

    @staticmethod
    def wrap_up_ok(wrap_up_s: Any) -> bool:
        return wrap_up_s is None or (not isinstance(wrap_up_s, bool) and isinstance(wrap_up_s, (int, float))
                                     and math.isfinite(wrap_up_s) and wrap_up_s >= 0)

    def release_row(self, now: float, cid: int, wrap_up_s: float | None = None) -> tuple:
        """Reads the call's state when ``wrap_up_s`` is bad (an unknown call is the error to report then)."""
        if not self.wrap_up_ok(wrap_up_s):
            if self._slot(cid) >= 0:
                raise StateError(f"wrap_up_s must be a finite number >= 0, got {wrap_up_s!r}")
            wrap_up_s = None
        return (OP_RELEASE, now, cid, -1, -1, 0, math.nan if wrap_up_s is None else float(wrap_up_s))

    def agent_row(self, op: int, now: float, agent_id: Hashable, ready: bool = False,
                  reason: str = "break") -> tuple:
        a = self.agent_index(agent_id)
        arg = float(flag(ready, "ready")) if op == OP_LOGIN else (
            float(self.reason_code(reason)) if op == OP_NOT_READY else 0.0)
        return (op, now, NO_ID, a, -1, 0, arg)

    def priority_row(self, now: float, cid: int, priority: int) -> tuple:
        """Reads the call's state when ``priority`` is bad (an unknown call is the error to report then)."""
        try:
            check_priority(priority)
        except StateError:
            if self._slot(cid) >= 0:
                raise
            priority = 0  # the unknown call is the error the core reports
        return (OP_PRIORITY, now, cid, -1, -1, priority, 0.0)

    def callback_row(self, now: float, cid: int, number: str) -> tuple:
        """Reads the clock and the call's state when ``number`` is bad."""
        try:
            code = self.number_code(number)
        except StateError:
            now = real_seconds(now)
            if not now >= self.now:
                raise TimeError(f"time went backwards: now={now!r} is before the last time {self.now!r}") from None
            if self._slot(cid) < 0:
                return (OP_CALLBACK, now, cid, -1, -1, 0, 0.0)  # the unknown call is the error to report
            raise
        return (OP_CALLBACK, now, cid, -1, -1, 0, float(code))

    def transfer_row(self, now: float, cid: int, queue: str | None = None, agent: Hashable | None = None,
                     context: dict | None = None, fallback_s: float = math.inf) -> tuple:
        """Reads the clock and the call's state (the time, or an ended call, is the error to report first)."""
        now = real_seconds(now)
        if self._slot(cid) < 0 or not now >= self.now:
            return (OP_TRANSFER, now, cid, -1, -1, 0, 0.0)
        if queue is None and agent is None:
            raise StateError("transfer needs a target queue or agent")
        q = self.queue_index(queue) if queue is not None else -1
        a = self.agent_index(agent) if agent is not None else -1
        if context is not None and not isinstance(context, dict):
            raise StateError(f"context must be a dict, got {type(context).__name__}")
        if isinstance(fallback_s, bool) or not isinstance(fallback_s, (int, float)) or not fallback_s >= 0:
            raise StateError(f"fallback_s must be >= 0 seconds (math.inf for never), got {fallback_s!r}")
        return (OP_TRANSFER, now, cid, a, q, 0, float(fallback_s))

"""Array layout of the compiled simulation loop (fast_loop.py): column constants and ``Loop``.

Like the router core's layout (router/core_layout.py), the loop keeps all
its state in arrays grouped in one NamedTuple, so numba runs a whole stretch
of simulated time in one call and the Python side can grow an array and call
again. Heap action codes are driver.py's.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Heap actions: driver.py's codes.
A_ACCEPT, A_RELEASE, A_PATIENCE, A_REDIAL, A_CB_CHECK, A_LOGIN, A_LOGOUT, A_BREAK, A_BACK = range(9)
# Loop state L_i: next first arrival, heap size, heap sequence, queue-change count, router events, steps,
# pending (1: an advance paused for room, 2: a logout's tail did), calls so far, first attempts, staffed
# spans, refill asked, draw-row low-water mark, every team answers at once, step bound, the "break" and
# "shift-end" reason codes, the pending logout's agent, event log on, its rows.
(L_NEXT, L_HN, L_HSEQ, L_NQ, L_EVENTS, L_STEPS, L_PENDING, L_NCALLS, L_NFIRST, L_NSPAN, L_REFILL, L_LOW,
 L_INSTANT, L_MAXSTEPS, L_R_BREAK, L_R_SHIFT, L_PA, L_LOG, L_NLOG) = range(19)
N_L_I = 19  # L_LOG: 1 when the events are copied to LOG_i / LOG_f (an event log), L_NLOG rows so far
# L_f: now, pending operation's time, stop time.
L_NOW, L_PT, L_STOP = range(3)
# Calls (index = router call id): C_f and C_i columns.
# CF_CBU: the caller's callback uniform (accepts an offer if < the queue's accept probability);
# CI_CB: 1 once the call became a callback (exempt from patience).
CF_ARR, CF_WAIT, CF_CONN, CF_BEND, CF_HANDLE, CF_ACW, CF_PAT, CF_REDU, CF_CBU = range(9)
CI_AGENT, CI_DISP, CI_ATTEMPT, CI_QUEUE, CI_CB = range(5)
# Agents: A_i team, logout pending (on a call at shift end), break pending (on a call at break start);
# A_f aht factor, staffed since (NaN: not staffed), end of the last call's wrap-up, end of the last span.
AI_TEAM, AI_LOGOUT, AI_BREAK = range(3)
AF_FACTOR, AF_FROM, AF_BUSY, AF_CLOSED = range(4)
# Queues: Q_i priority, redial max attempts, first draw row of its redials (delay, talk, acw, patience,
# redial u, callback u; -1 when it never redials), 1 when it offers callbacks; Q_f redial probability,
# callback accept probability, callback EWT threshold (seconds).
QI_PRIO, QI_MAXATT, QI_ROW, QI_CB = range(4)
QF_PROB, QF_CB_P, QF_CB_EWT = range(3)


class Loop(NamedTuple):
    """Every array of the compiled loop's state (columns named above)."""

    L_i: np.ndarray
    L_f: np.ndarray
    H_t: np.ndarray  # sim heap: time
    H_i: np.ndarray  # sequence, action, call (or agent), agent
    C_f: np.ndarray
    C_i: np.ndarray
    A_i: np.ndarray
    A_f: np.ndarray
    Q_i: np.ndarray
    Q_f: np.ndarray
    T_i: np.ndarray  # team -> its answer-delay draw row (-1: answers at once)
    DR: np.ndarray  # draw rows
    DI: np.ndarray  # next unused value of each row
    DL: np.ndarray  # each row's low-water mark: the most one step can draw from it
    q_t: np.ndarray  # queue-length changes: time, ±1
    q_d: np.ndarray
    SP_i: np.ndarray  # closed staffed spans: agent; start, end
    SP_f: np.ndarray
    offers: np.ndarray  # instant offers of one reaction: call, agent
    LOG_i: np.ndarray  # the router's events (EV_i / EV_f rows) since the Python side last wrote them
    LOG_f: np.ndarray

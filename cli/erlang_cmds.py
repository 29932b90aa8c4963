"""``busyhour erlang b|c|a``, ``busyhour staff``, ``busyhour trunks``, ``busyhour bench erlang``.

A thin shell: parse options, call :mod:`busyhour.erlang`, print a record
table (``--format table|csv|json``, ``--out FILE``; see docs/cli.md).
numpy/numba/matplotlib are imported inside the command functions so that the
CLI starts fast.  Bad input exits with code 2 and one line naming the option
(or file line and column).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional

import typer

from .common import format_option, out_option
from .erlang_output import (
    MAX_COUNT, Column, Format, check_table_rows, check_wait, check_work, emit, erl_cell, option_error, parse_counts,
    parse_sl, prob_cell, usage,
)

FORMAT = format_option()
OUT = out_option()
LOAD = typer.Option(None, "--load", help="Offered load in Erlangs (or give --calls and --aht-s).")
CALLS = typer.Option(None, "--calls", help="Calls offered per interval (with --aht-s and --interval-min).")
INTERVAL = typer.Option(None, "--interval-min", show_default=False,
                        help="Interval length in minutes (1 to 10080) for --calls; default 30.")
THRESHOLD = typer.Option(None, "--threshold-s", show_default=False,
                         help="SL threshold, s (0 to 86400); default 20; not with --sl, which gives its own.")
DEFAULT_INTERVAL_MIN = 30.0
DEFAULT_THRESHOLD_S = 20.0


class BRow(NamedTuple):
    servers: int
    load_erl: float
    blocking: float
    carried_erl: float


class CRow(NamedTuple):
    agents: int
    load_erl: float
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float


class ARow(NamedTuple):
    agents: int
    load_erl: float
    p_wait: float
    p_abandon: float
    service_level: float
    service_level_of_answered: float
    asa_s: float
    mean_wait_s: float
    occupancy: float


class TrunkRow(NamedTuple):
    lines: int
    offered_erl: float
    carried_erl: float
    blocking: float


PCT = "{:.2%}"
B_COLS = [Column("servers", "servers", "{:d}"), Column("load_erl", "load (Erl)", erl_cell),
          Column("blocking", "blocking", prob_cell), Column("carried_erl", "carried (Erl)", erl_cell)]
C_COLS = [Column("agents", "agents", "{:d}"), Column("load_erl", "load (Erl)", erl_cell),
          Column("p_wait", "P(wait)", "{:.4f}"), Column("service_level", "SL", PCT),
          Column("asa_s", "ASA (s)", "{:.1f}"), Column("occupancy", "occupancy", PCT)]
A_COLS = [Column("agents", "agents", "{:d}"), Column("load_erl", "load (Erl)", erl_cell),
          Column("p_wait", "P(wait)", "{:.4f}"), Column("p_abandon", "abandon", PCT),
          Column("service_level", "SL", PCT), Column("service_level_of_answered", "SL answered", PCT),
          Column("asa_s", "ASA (s)", "{:.1f}"), Column("mean_wait_s", "mean wait (s)", "{:.1f}"),
          Column("occupancy", "occupancy", PCT)]
T_COLS = [Column("lines", "lines", "{:d}"), Column("offered_erl", "offered (Erl)", erl_cell),
          Column("carried_erl", "carried (Erl)", erl_cell), Column("blocking", "blocking", prob_cell)]


def _load(load: Optional[float], calls: Optional[float], aht_s: Optional[float],
          interval_min: Optional[float]) -> float:
    from busyhour.erlang import load_erlangs
    from busyhour.erlang.forecast import MAX_INTERVAL_MIN, MIN_INTERVAL_MIN

    if (load is None) == (calls is None):
        usage("give exactly one of --load (Erlangs) or --calls (per interval, with --aht-s)")
    if load is not None:
        if interval_min is not None:
            usage("--interval-min applies only to --calls (calls per interval); with --load it would be ignored")
        return load
    if aht_s is None:
        usage("--calls needs --aht-s to turn calls into Erlangs")
    interval_min = DEFAULT_INTERVAL_MIN if interval_min is None else interval_min
    if not MIN_INTERVAL_MIN <= interval_min <= MAX_INTERVAL_MIN:
        usage(f"--interval-min must be between {MIN_INTERVAL_MIN:g} and {MAX_INTERVAL_MIN:g} minutes "
              f"(got {interval_min:g})")
    try:
        return load_erlangs(calls, interval_min * 60.0, aht_s)
    except ValueError as exc:
        option_error(exc)


def _counts(text: Optional[str], option: str, fmt: Format) -> Optional[list[int]]:
    """``--agents``/``--servers``/``--lines`` parsed, and refused at once if the table would be too long."""
    if text is None:
        return None
    ns = parse_counts(text, f"'{option}'")
    check_table_rows(len(ns), fmt, f"{option} {text}")
    return ns


def _names(load: Optional[float]) -> dict[str, str]:
    """Blame ``--load`` only when it was given; a load computed from --calls is named as such."""
    return {} if load is not None else {"load": "the load (--calls x --aht-s / --interval-min)"}


def cmd_b(servers: str = typer.Option(..., "--servers", "-n", help="N, FIRST:LAST[:STEP] or N,N,..."),
          load: Optional[float] = LOAD, calls: Optional[float] = CALLS,
          aht_s: Optional[float] = typer.Option(None, "--aht-s", help="Average handling time, s (with --calls)."),
          interval_min: Optional[float] = INTERVAL,
          recall: float = typer.Option(0.0, "--recall", help="Fraction of blocked callers who retry, 0 to <1 "
                                                             "(extended Erlang B)."),
          fmt: Format = FORMAT, out: Optional[Path] = OUT) -> None:
    """Erlang B: blocking of a group of servers (lines), optionally with retries."""
    from busyhour.erlang import carried_load, erlang_b, extended_erlang_b, work

    if aht_s is not None and calls is None:
        usage("--aht-s applies only to --calls (calls per interval); with --load it would be ignored")
    ns = _counts(servers, "--servers", fmt)
    a = _load(load, calls, aht_s, interval_min)
    if 0.0 < recall < 1.0 and a < float("inf"):  # extended Erlang B runs alone: its walks, not erlang_b's
        check_work(work.extended_erlang_b_steps(ns, a, recall), f"--servers {servers} at {a:g} Erl with --recall")
    else:  # erlang_b and carried_load each walk the counts (a bad --recall is refused by extended_erlang_b)
        check_work(2 * work.erlang_b_steps(ns, a), f"--servers {servers} at {a:g} Erl", ascending_helps=True)
    try:
        if recall != 0.0:  # nan, negatives and >= 1 are refused by extended_erlang_b
            res = extended_erlang_b(ns, a, recall)
            rows = [BRow(n, float(x), float(b), float(c)) for n, x, b, c in
                    zip(ns, res.offered_load_erl, res.blocking, res.carried_load_erl)]
            title = f"Extended Erlang B: {a:g} Erl fresh, recall {recall:g} (load = fresh + retries)"
        else:
            rows = [BRow(n, a, float(b), float(c)) for n, b, c in zip(ns, erlang_b(ns, a), carried_load(ns, a))]
            title = f"Erlang B at {a:g} Erl"
    except ValueError as exc:
        option_error(exc, _names(load))
    emit(rows, B_COLS, fmt, title=title, out=out)


def cmd_c(load: Optional[float] = LOAD, calls: Optional[float] = CALLS,
          aht_s: float = typer.Option(180.0, "--aht-s", help="Average handling time, seconds."),
          interval_min: Optional[float] = INTERVAL,
          agents: Optional[str] = typer.Option(None, "--agents", "-n", help="N, FIRST:LAST[:STEP] or N,N,..."),
          sl: Optional[str] = typer.Option(None, "--sl", help="Target such as 80/20: find the least agents."),
          threshold_s: Optional[float] = THRESHOLD,
          asa_s: Optional[float] = typer.Option(None, "--asa-s", help="Target ASA, s (up to 86400): find the least "
                                                                      "agents."),
          max_occupancy: Optional[float] = typer.Option(None, "--max-occupancy", help="Occupancy cap, e.g. 0.9."),
          fmt: Format = FORMAT, out: Optional[Path] = OUT) -> None:
    """Erlang C: P(wait), service level, ASA and occupancy; required agents with --sl / --asa-s."""
    from busyhour.erlang import agents_for_asa, agents_for_service_level, erlang_c_metrics, work

    a = _load(load, calls, aht_s, interval_min)
    target, threshold_s = _target(sl, threshold_s)
    check_wait(asa_s, "--asa-s", positive=True)
    if max_occupancy is not None and target is None and asa_s is None:
        usage("--max-occupancy caps the search for the least agents: give --sl or --asa-s with it")
    given = _counts(agents, "--agents", fmt)
    if given is not None:  # one Erlang C walk per count gives every column
        check_work(work.erlang_c_steps(given, a), f"--agents {agents} at {a:g} Erl", ascending_helps=True)
    try:
        n_req = None
        if target is not None or asa_s is not None:
            need = [agents_for_service_level(a, aht_s, threshold_s, target, max_occupancy)] if target else []
            need += [agents_for_asa(a, aht_s, asa_s, max_occupancy)] if asa_s is not None else []
            n_req = max(need)
        ns, answer = _agent_counts(given, n_req, "--asa-s")
        m = erlang_c_metrics(ns, a, aht_s, threshold_s)
        rows = [CRow(n, a, float(p), float(s), float(q), float(o)) for n, p, s, q, o in
                zip(ns, m.p_wait, m.service_level, m.asa_s, m.occupancy)]
    except ValueError as exc:
        option_error(exc, _names(load))
    emit(rows, C_COLS, fmt, title=f"Erlang C at {a:g} Erl, AHT {aht_s:g} s, SL threshold {threshold_s:g} s",
         answer=answer, out=out)


def _target(sl: Optional[str], threshold_s: Optional[float]) -> tuple[Optional[float], float]:
    """(target SL, threshold) from ``--sl 80/20``, or (None, ``--threshold-s`` or 20) without it;
    both at once are refused (the threshold would be ignored); either threshold at most a day."""
    if sl is None:
        check_wait(threshold_s, "--threshold-s")
        return None, DEFAULT_THRESHOLD_S if threshold_s is None else threshold_s
    if threshold_s is not None:
        usage(f"--sl {sl} gives the threshold ({sl.rpartition('/')[2]} s), so --threshold-s {threshold_s:g} "
              "would be ignored: give one of them")
    return parse_sl(sl)


def _agent_counts(given: Optional[list[int]], n_req: Optional[int], other_target: str
                  ) -> tuple[list[int], Optional[dict]]:
    """Agent counts to tabulate: ``--agents`` if given (already parsed), else n_req - 3 .. n_req + 3
    around the required count; plus the summary line. Neither given: an error naming the options."""
    if n_req is None and given is None:
        usage(f"give --agents, or a target with --sl (e.g. 80/20) or {other_target}")
    answer = {"required_agents": n_req} if n_req is not None else None
    if given is not None:
        return given, answer
    return list(range(max(0, n_req - 3), min(n_req + 3, MAX_COUNT) + 1)), answer


def cmd_a(load: Optional[float] = LOAD, calls: Optional[float] = CALLS,
          aht_s: float = typer.Option(180.0, "--aht-s", help="Average handling time, seconds."),
          patience_s: float = typer.Option(..., "--patience-s", help="Mean caller patience, s (0 to 86400; inf = "
                                                                     "Erlang C)."),
          interval_min: Optional[float] = INTERVAL,
          agents: Optional[str] = typer.Option(None, "--agents", "-n", help="N, FIRST:LAST[:STEP] or N,N,..."),
          sl: Optional[str] = typer.Option(None, "--sl", help="Target such as 80/20: find the least agents."),
          threshold_s: Optional[float] = THRESHOLD,
          max_abandon: Optional[float] = typer.Option(None, "--max-abandon", help="Abandonment cap, e.g. 0.05."),
          fmt: Format = FORMAT, out: Optional[Path] = OUT) -> None:
    """Erlang A (callers abandon): SL, ASA, abandonment, occupancy; required agents with --sl."""
    from busyhour.erlang import agents_for_erlang_a, erlang_a, work

    a = _load(load, calls, aht_s, interval_min)
    target, threshold_s = _target(sl, threshold_s)
    check_wait(patience_s, "--patience-s", allow_inf=True)
    given = _counts(agents, "--agents", fmt)
    if given is not None and aht_s > 0:  # a bad --aht-s is refused below
        check_work(work.erlang_a_steps(given, a, aht_s, patience_s, threshold_s), f"--agents {agents} at {a:g} Erl")
    try:
        n_req = None
        if target is not None or max_abandon is not None:
            n_req = agents_for_erlang_a(a, aht_s, patience_s, threshold_s, target_sl=target, max_abandon=max_abandon)
        ns, answer = _agent_counts(given, n_req, "--max-abandon")
        r = erlang_a(ns, a, aht_s, patience_s, threshold_s)
        rows = [ARow(n, a, *(float(getattr(r, f)[i]) for f in ARow._fields[2:])) for i, n in enumerate(ns)]
    except ValueError as exc:
        option_error(exc, _names(load))
    emit(rows, A_COLS, fmt, answer=answer, out=out,
         title=f"Erlang A at {a:g} Erl, AHT {aht_s:g} s, patience {patience_s:g} s, SL threshold {threshold_s:g} s")


def cmd_trunks(load: Optional[float] = typer.Option(None, "--load", help="Offered load, Erlangs: find the lines."),
               lines: Optional[str] = typer.Option(None, "--lines",
                                                   help="Lines (N, FIRST:LAST or N,N): find the load."),
               blocking: float = typer.Option(0.01, "--blocking",
                                              help="Target blocking probability (grade of service)."),
               fmt: Format = FORMAT, out: Optional[Path] = OUT) -> None:
    """Trunk sizing by Erlang B: lines for a load, or the load that lines carry, at a blocking target."""
    from busyhour.erlang import carried_load, erlang_b, load_for_blocking, trunks_for_blocking, work

    if (load is None) == (lines is None):
        usage("give exactly one of --load (find the lines) or --lines (find the load)")
    ns = _counts(lines, "--lines", fmt)
    if ns is not None:  # the solver's walks depend on the target (a bad --blocking is refused below)
        check_work(work.load_for_blocking_steps(ns, blocking if 0.0 < blocking < 1.0 else 1e-300),
                   f"--lines {lines} at blocking {blocking:g}")
    try:
        if load is not None:
            n = trunks_for_blocking(load, blocking)
            rows = [TrunkRow(n, load, carried_load(n, load), erlang_b(n, load))]
            title = f"Least lines for {load:g} Erl at blocking <= {blocking:g}"
        else:
            offered = load_for_blocking(ns, blocking)
            rows = [TrunkRow(n, float(x), float(x) * (1 - blocking), blocking) for n, x in zip(ns, offered)]
            title = f"Load carried at blocking {blocking:g}"
    except ValueError as exc:
        option_error(exc, {"target": "--blocking", "servers": "--lines"})
    emit(rows, T_COLS, fmt, title=title, out=out)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add ``erlang b|c|a``, ``staff``, ``trunks`` to ``app`` and ``erlang`` to ``bench_app``."""
    from .erlang_staff_cmd import cmd_bench_erlang, cmd_staff

    erlang_app = typer.Typer(help="Erlang B, C and A: single answers and what-if tables.", no_args_is_help=True)
    erlang_app.command("b")(cmd_b)
    erlang_app.command("c")(cmd_c)
    erlang_app.command("a")(cmd_a)
    app.add_typer(erlang_app, name="erlang")
    app.command("staff")(cmd_staff)
    app.command("trunks")(cmd_trunks)
    bench_app.command("erlang")(cmd_bench_erlang)


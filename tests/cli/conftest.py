"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

import busyhour.erlang as erlang
from erlang_cli_helpers import WORK


def _forbid(monkeypatch, names) -> None:
    def boom(*a, **k):
        raise AssertionError("work started before the refusal")
    for name in names:
        monkeypatch.setattr(erlang, name, boom)


@pytest.fixture
def no_work(monkeypatch):
    """Every Erlang evaluation fails loudly: a refusal must come before any of them."""
    _forbid(monkeypatch, WORK)


@pytest.fixture
def no_reading(monkeypatch):
    """As ``no_work``, and reading a forecast fails too: the refusal comes before the file is read."""
    _forbid(monkeypatch, WORK + ("read_forecast",))

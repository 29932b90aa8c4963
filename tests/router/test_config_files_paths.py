"""Configuration files named by path (serve, SIGHUP reload, ``load_toml``): what is not a regular file is refused
at once, naming the path, and never waited on."""

import os

import pytest

from busyhour.router.config_files import read_toml_text
from busyhour.router.errors import ConfigError


def test_a_named_pipe_is_refused_at_once(tmp_path):
    fifo = tmp_path / "cfg.toml"
    os.mkfifo(fifo)  # nothing writes to it: opening it to read would wait forever
    with pytest.raises(ConfigError, match=r"cfg\.toml: is a named pipe, not a regular file"):
        read_toml_text(fifo, max_bytes=1 << 20)


@pytest.mark.parametrize("name, message", [("missing.toml", "no such file"), (".", "is a directory")])
def test_missing_and_folders_are_named(tmp_path, name, message):
    with pytest.raises(ConfigError, match=message):
        read_toml_text(tmp_path / name)


def test_a_file_over_the_limit_is_refused_and_one_within_it_is_read(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("a = 1\n")
    assert read_toml_text(p, max_bytes=6) == "a = 1\n"
    with pytest.raises(ConfigError, match="6 bytes, over the 5-byte limit"):
        read_toml_text(p, max_bytes=5)

"""The ``busyhour import`` commands: output, ``--out``, the notes table, limits, one-line errors.

Checked:
1. stdout is the TOML configuration (``load_toml`` reads it), the notes go to stderr as a table;
2. ``--out FILE`` writes the same text and leaves stdout empty; a bad ``--out`` is refused before the input is read;
3. the size, line-length and NUL limits refuse a file with ``FILE[:LINE]: problem``, exit 2, no traceback;
4. a syntax error is one line ``busyhour: error: FILE:LINE: problem``, exit 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from busyhour.adapters.importers import MAX_FILE_BYTES, MAX_LINE_CHARS, SourceError, import_asterisk
from busyhour.cli.main import app
from busyhour.router.config import load_toml

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(result, code: int) -> str:
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("busyhour: error: "), lines
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("args, queues", [
    (["asterisk", DATA / "queues.conf", "--agents", DATA / "agents.conf"], ["sales", "support", "billing", "overflow"]),
    (["freeswitch", DATA / "callcenter.conf.xml"], ["support@default", "sales@default", "vip@default"]),
])
def test_stdout_is_the_configuration_and_stderr_the_notes(tmp_path, args, queues):
    r = run("import", *args)
    assert r.exit_code == 0, r.stderr
    path = tmp_path / "out.toml"
    path.write_text(r.stdout)
    assert [q.name for q in load_toml(path).queues] == queues
    assert "approximated or not mapped" in r.stderr and "unknown option" in r.stderr
    assert "┃ where" in r.stderr or "where" in r.stderr.splitlines()[1]
    assert r.stdout.startswith("# busyhour router configuration imported from")


def test_out_writes_the_file(tmp_path):
    plain = run("import", "asterisk", DATA / "queues.conf")
    out = tmp_path / "new" / "router.toml"
    r = run("import", "asterisk", DATA / "queues.conf", "--out", out)
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text() == plain.stdout
    assert f"written: {out}" in r.stderr
    assert load_toml(out).queues[0].name == "sales"


def test_out_is_checked_before_reading(tmp_path):
    line = one_error_line(run("import", "freeswitch", tmp_path / "missing.xml", "--out", tmp_path), 2)
    assert "is a directory" in line and "missing.xml" not in line


@pytest.mark.parametrize("body, needle", [
    ("[q]\nmember => SIP/a\n[q]\n", "queues.conf:3: section [q] defined twice"),
    ("[q]\nnot an option\n", "queues.conf:2: expected 'key = value'"),
])
def test_syntax_error_is_one_line_with_file_and_line(tmp_path, body, needle):
    (tmp_path / "queues.conf").write_text(body)
    assert needle in one_error_line(run("import", "asterisk", tmp_path / "queues.conf"), 2)


def test_missing_and_directory_inputs(tmp_path):
    assert "cannot read" in one_error_line(run("import", "asterisk", tmp_path / "nope.conf"), 2)
    assert "is a directory" in one_error_line(run("import", "freeswitch", tmp_path), 2)


def test_oversize_file_is_refused(tmp_path):
    big = tmp_path / "queues.conf"
    with open(big, "wb") as fh:
        fh.write(b"[q]\n")
        fh.write((b"; filler" + b" " * 100 + b"\n") * ((MAX_FILE_BYTES // 109) + 1))
    assert big.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(SourceError, match="larger than 4 MiB"):
        import_asterisk(big)
    assert "larger than 4 MiB" in one_error_line(run("import", "asterisk", big), 2)


def test_includes_share_the_size_limit(tmp_path):
    chunk = (b"; filler" + b" " * 100 + b"\n") * ((MAX_FILE_BYTES // 109) // 2 + 10)
    (tmp_path / "a.conf").write_bytes(chunk)
    (tmp_path / "b.conf").write_bytes(chunk)
    (tmp_path / "queues.conf").write_text("[q]\n#include a.conf\n#include b.conf\n")
    with pytest.raises(SourceError, match="with its includes"):
        import_asterisk(tmp_path / "queues.conf")


def test_dev_zero_is_refused_without_reading_it_all():
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    assert "larger than 4 MiB" in one_error_line(run("import", "freeswitch", "/dev/zero"), 2)


def test_long_line_and_nul_byte(tmp_path):
    path = tmp_path / "queues.conf"
    path.write_text("[q]\n\n; " + "x" * MAX_LINE_CHARS + "\n")
    assert "queues.conf:3: line longer than 8,192" in one_error_line(run("import", "asterisk", path), 2)
    path.write_bytes(b"[q]\nmember => SIP/a\x00\n")
    assert "queues.conf:2: contains a NUL byte" in one_error_line(run("import", "asterisk", path), 2)


def test_help_lists_both_importers():
    r = run("import", "--help")
    assert r.exit_code == 0 and "asterisk" in r.stdout and "freeswitch" in r.stdout


def test_too_many_queues_is_refused(tmp_path, monkeypatch):
    import busyhour.adapters.importers.common as common

    monkeypatch.setattr(common, "MAX_QUEUES", 2)
    path = tmp_path / "queues.conf"
    path.write_text("[a]\n[b]\n[c]\n")
    assert "3 queues; at most 2 are imported" in one_error_line(run("import", "asterisk", path), 2)
    xml = tmp_path / "callcenter.conf.xml"
    xml.write_text('<configuration name="callcenter.conf"><queues><queue name="a"/><queue name="b"/>'
                   '<queue name="c"/></queues></configuration>')
    assert "3 queues; at most 2 are imported" in one_error_line(run("import", "freeswitch", xml), 2)


def test_numbers_beyond_the_limit_are_noted_not_used(tmp_path):
    path = tmp_path / "queues.conf"
    path.write_text("[q]\nwrapuptime = 1e12\nmaxlen = 99999999999\nmember => SIP/a,99999999999\n")
    r = import_asterisk(path)
    cfg = load_toml_text(tmp_path, r.toml)
    assert (cfg.queues[0].wrap_up_s, cfg.queues[0].max_length, cfg.queues[0].members[0].penalty) == (0, 0, 0)
    assert {n.option for n in r.notes} == {"wrapuptime", "maxlen", "member penalty"}


def load_toml_text(tmp_path: Path, text: str):
    path = tmp_path / "out.toml"
    path.write_text(text)
    return load_toml(path)

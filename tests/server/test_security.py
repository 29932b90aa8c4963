"""CurveZMQ: admitted keys work, an unlisted key and a plain-text client are refused; a
non-loopback bind is refused without encryption. Loopback only."""

from __future__ import annotations

import subprocess
import sys
import pytest
import zmq.auth

from busyhour.router.server.security import SecurityError, check_binds, client_keys, is_local_endpoint
from wire import Peer, spawn

CONFIG = '[[agents]]\nid = "a1"\n[[queues]]\nname = "q"\nmembers = ["a1"]\n'


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "busyhour.cli.main", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("endpoint, local", [
    ("tcp://127.0.0.1:5570", True), ("tcp://127.3.4.5:1", True), ("tcp://localhost:5570", True),
    ("tcp://[::1]:5570", True), ("ipc:///tmp/x", True), ("tcp://0.0.0.0:5570", False), ("tcp://*:5570", False),
    ("tcp://10.1.2.3:5570", False), ("tcp://eth0:5570", False),
])
def test_what_counts_as_local(endpoint, local):
    assert is_local_endpoint(endpoint) is local


def test_non_loopback_bind_needs_curve_or_insecure():
    with pytest.raises(SecurityError, match="--curve-keys"):
        check_binds(["tcp://0.0.0.0:5570"], curve=False, insecure=False)
    assert check_binds(["tcp://0.0.0.0:5570"], curve=True, insecure=False) == []
    assert "plain text" in check_binds(["tcp://0.0.0.0:5570"], curve=False, insecure=True)[0]
    with pytest.raises(SecurityError, match="not a ZeroMQ endpoint"):
        check_binds(["http://x"], curve=False, insecure=False)


def test_serve_refuses_a_public_bind_before_binding(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    res = _cli("serve", str(cfg), "--bind", "tcp://0.0.0.0:0")
    assert res.returncode == 2  # what it was given: a usage error, as docs/cli.md's exit codes say
    assert res.stderr.strip().splitlines()[-1].startswith("busyhour: error: refusing to bind tcp://0.0.0.0:0")
    assert "Traceback" not in res.stderr


def test_curve_admits_listed_keys_and_refuses_others(tmp_path):
    keys = tmp_path / "keys"
    res = _cli("keys", "generate", str(keys), "--client", "pbx", "--client", "bench")
    assert res.returncode == 0, res.stderr
    assert (keys / "server.key_secret").stat().st_mode & 0o077 == 0
    assert _cli("keys", "generate", str(keys), "--client", "pbx").returncode == 2   # never overwrites a key
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    srv = spawn(cfg, extra=["--curve-keys", str(keys)])
    try:
        admitted = Peer(srv.commands, b"ok-client", curve=client_keys(keys, "pbx"))
        assert admitted.ask("ping")["ok"]
        admitted.close()
        stranger_pub, stranger_sec = zmq.auth.create_certificates(str(tmp_path), "stranger")
        pub, sec = zmq.auth.load_certificate(stranger_sec)
        server_pub = client_keys(keys, "pbx").server_public
        for curve in ((pub, sec, server_pub), None):              # unlisted key; plain text
            peer = Peer(srv.commands, b"refused", curve=curve, timeout_s=1.5)
            assert peer.raw(b"\x81\xa1v\x01") is None
            peer.close()
        assert srv.alive()
    finally:
        srv.kill()


def test_a_keys_folder_that_cannot_be_made_is_named(tmp_path):
    from busyhour.router.server.security import generate

    with pytest.raises(SecurityError, match="/proc/busyhour-keys: cannot create the keys folder"):
        generate("/proc/busyhour-keys", ["pbx"])  # /proc takes no new folders, even from root
    with pytest.raises(SecurityError, match="exists and is not a folder"):
        (tmp_path / "f").write_text("")
        generate(tmp_path / "f", [])


def test_a_port_beyond_65535_is_refused_not_wrapped():
    from busyhour.router.server.security import is_local_endpoint

    with pytest.raises(SecurityError, match="port 99999 is outside 0–65535"):  # ZeroMQ would bind 34463
        is_local_endpoint("tcp://127.0.0.1:99999")
    assert is_local_endpoint("tcp://127.0.0.1:65535") and is_local_endpoint("tcp://127.0.0.1:0")
    assert is_local_endpoint("tcp://127.0.0.1:*")


def test_each_failed_handshake_gets_its_reason():
    """The socket monitor's event and value -> the metric label: a peer that hung up or reset the connection
    mid-handshake has its own label; any other error with no detail stays ``other``."""
    import errno

    from busyhour.router.server.security import REFUSALS, refusal_reason

    for (event, value), reason in REFUSALS.items():
        assert refusal_reason(event, value) == reason
    for code in (errno.EPIPE, errno.ECONNRESET):
        assert refusal_reason(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, code) == "closed_during_handshake"
    assert refusal_reason(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, errno.ENOMEM) == "other"
    assert refusal_reason(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.PROTOCOL_ERROR_ZMTP_UNSPECIFIED) == "other"
    assert refusal_reason(zmq.EVENT_HANDSHAKE_FAILED_AUTH, 500) == "other"


def test_refused_handshakes_are_counted_by_reason_and_logged(tmp_path):
    import time
    import urllib.request

    from wire import server_log

    keys = tmp_path / "keys"
    assert _cli("keys", "generate", str(keys), "--client", "pbx").returncode == 0
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    srv = spawn(cfg, extra=["--curve-keys", str(keys)], metrics=True)
    port = srv.metrics_port
    peers: list = []
    try:
        admitted = client_keys(keys, "pbx")
        stranger_pub, stranger_sec = zmq.curve_keypair()
        other_server_pub, _ = zmq.curve_keypair()
        peers = [Peer(srv.commands, b"refused", curve=curve, timeout_s=0.5)  # kept open until counted
                 for curve in (None, (stranger_pub, stranger_sec, admitted.server_public),
                               (admitted.public, admitted.secret, other_server_pub))]
        for peer in peers:
            assert peer.raw(b"\x81\xa1v\x01") is None
        # The keyless client is refused as plain_text, or as closed_during_handshake when it hangs up first: both
        # sides see the mechanism mismatch, and on a loaded machine the client may close before the server has
        # written its error (the server's monitor then reports no detail, EPIPE; seen under CPU load, 1 run in ~5).
        wanted = (('reason="plain_text"', 'reason="closed_during_handshake"'), ('reason="key_not_admitted"',),
                  ('reason="wrong_server_key"',))
        end = time.monotonic() + 20.0
        while True:  # the loop reads its monitors once a second
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
            lines = [ln for ln in text.splitlines() if ln.startswith("busyhour_handshakes_refused_total{")]
            if all(any(w in ln and not ln.endswith(" 0.0") for w in ws for ln in lines) for ws in wanted):
                break
            assert time.monotonic() < end, lines
            time.sleep(0.2)
        for peer in peers:
            peer.close()
        peers = []
        log = server_log(srv)
        assert "refused" in log and "client handshakes" in log and "docs/server.md" in log, log
        ok = Peer(srv.commands, b"ok-client", curve=admitted)
        assert ok.ask("ping")["ok"]  # an admitted client is untouched
        ok.close()
    finally:
        for peer in peers:  # a failure above leaves them open: closed here, not by a later test's collector
            peer.close()
        srv.kill()

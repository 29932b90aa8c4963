"""adapter.ipc's folder checked for the user Kamailio's ``-u`` makes the bridge run as (adapters/kamailio/bh_config.py).

Kamailio started as root with ``-u USER`` reads the adapter's file (module init) as root and only then drops to
USER, whose bridge binds the ipc socket: a folder only root can write passed the start check and the bridge then
failed to bind, callers getting 503 (seen with real Kamailio before the check). These tests need root, as CI
runs them, to make folders another user cannot write.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from busyhour.bench.sip_stack import ADAPTER_DIR, free_udp_port
from kamailio_modules import cfgmod

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="folders another user cannot write need root")

CONF = '[router]\ncommands = "tcp://127.0.0.1:1"\nevents = "tcp://127.0.0.1:2"\n[adapter]\nipc = "ipc://{}/b.ipc"\n'
AS_NOBODY = ["kamailio", "-f", "k.cfg", "-m", "64", "-DD", "-E", "-u", "nobody", "-g", "nogroup"]


@pytest.fixture
def base():
    """A folder under /tmp that every user may search (pytest's own tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="bh-runas-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _conf(tmp_path: Path, folder: Path) -> str:
    path = tmp_path / "busyhour.toml"
    path.write_text(CONF.format(folder))
    return str(path)


def _folder(base: Path, name: str, mode: int, group: str | None = None) -> Path:
    folder = base / name
    folder.mkdir()
    if group is not None:
        os.chown(folder, 0, grp.getgrnam(group).gr_gid)
    folder.chmod(mode)
    return folder


def test_a_folder_only_root_can_write_is_refused_for_the_minus_u_user(base, tmp_path):
    conf = _conf(tmp_path, _folder(base, "closed", 0o700))
    for argv in (AS_NOBODY, ["kamailio", "-unobody"], ["kamailio", "-DDu", "nobody"],
                 ["kamailio", "-u", str(pwd.getpwnam("nobody").pw_uid)]):
        with pytest.raises(ValueError, match=r"folder .*closed is not writable by user nobody \(uid \d+\), whom "
                                             r"Kamailio's -u makes the bridge run as"):
            cfgmod.load_config(conf, argv)
    for argv in (["kamailio", "-f", "k.cfg"],                      # no -u: the bridge runs as root
                 ["kamailio", "-A", "-u", "-f", "k.cfg"],          # "-u" is -A's value here, not an option
                 ["kamailio", "-u", "no-such-user-here"]):         # Kamailio itself refuses an unknown user
        assert cfgmod.load_config(conf, argv)["adapter"]["ipc"].endswith("closed/b.ipc")


def test_folders_the_minus_u_user_can_write_pass(base, tmp_path):
    cfgmod.load_config(_conf(tmp_path, _folder(base, "open", 0o777)), AS_NOBODY)
    cfgmod.load_config(_conf(tmp_path, _folder(base, "team", 0o770, group="nogroup")), AS_NOBODY)   # by its group
    with pytest.raises(ValueError, match="not writable by user nobody"):                          # another group
        cfgmod.load_config(_conf(tmp_path, _folder(base, "team2", 0o770, group="nogroup")),
                           ["kamailio", "-u", "nobody", "-g", "root"])


def test_a_folder_inside_one_the_user_cannot_search_is_refused(base, tmp_path):
    inner = _folder(_folder(base, "shut", 0o700), "inner", 0o777)
    with pytest.raises(ValueError, match="not writable by user nobody"):
        cfgmod.load_config(_conf(tmp_path, inner), AS_NOBODY)


def test_real_kamailio_started_with_minus_u_refuses_the_folder_at_start(base, tmp_path, sip_packages):
    conf = _conf(tmp_path, _folder(base, "closed", 0o700))
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "BUSYHOUR_KAMAILIO_CONF": conf}
    p = subprocess.Popen(["kamailio", "-f", str(ADAPTER_DIR / "kamailio.cfg"), "-m", "64", "-DD", "-E",
                          "-u", "nobody", "-g", "nogroup", "-A", f"BH_LISTEN=udp:127.0.0.1:{free_udp_port()}",
                          "-A", f'BH_HANDLER="{ADAPTER_DIR / "busyhour_kamailio.py"}"', "-A", "BH_CHILDREN=1"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:   # it started: the check let the folder through; stop all its processes
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        pytest.fail("Kamailio started with a folder its -u user cannot write: " + err[-1500:])
    assert p.returncode != 0, err[-2000:]
    assert "is not writable by user nobody" in err, err[-2000:]

"""The Kamailio adapter's modules, loaded by path for the e2e tests (Kamailio runs adapters/kamailio/*.py as
plain files, not as part of the busyhour package): ``bh`` is bh_bridge.py (``bh_sync`` the module
it imports), ``cfgmod`` bh_config.py."""

from __future__ import annotations

import importlib.util
import sys

from busyhour.bench.sip_stack import ADAPTER_DIR


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, ADAPTER_DIR / file)
    mod = sys.modules.setdefault(name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(mod)
    return mod


bh = _load("kamailio_bh_bridge", "bh_bridge.py")
bh_sync = sys.modules["bh_sync"]  # imported by bh_bridge.py by name, as Kamailio imports it
cfgmod = _load("kamailio_bh_config", "bh_config.py")

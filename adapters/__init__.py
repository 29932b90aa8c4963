"""PBX adapters: code that runs inside or beside a SIP server and talks protocol v1 to ``busyhour serve``.

``adapters/kamailio/`` holds a Kamailio configuration and the ``app_python3``
handler it loads. That handler runs in Kamailio's embedded Python (Debian's
``/usr/bin/python3`` with ``python3-zmq`` and ``python3-msgpack``), not in
busyhour's virtual environment, so it imports nothing from busyhour. See
docs/adapters.md.
"""

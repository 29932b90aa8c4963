"""busyhour.client — talk to ``busyhour serve`` over protocol v1 (docs/protocol.md).

``RouterClient`` blocks; ``AsyncRouterClient`` runs on asyncio. Both pipeline
requests (replies matched by id), resend after a timeout with back-off, with the
same ids on the same socket (the server's idempotency makes that exactly-once;
ZeroMQ reconnects the socket by itself), and follow the event stream with gaps
filled. See docs/server.md, "Client
library".
"""

from .aio import AsyncRouterClient
from .records import (Event, EventsPage, Ping, ProtocolMismatch, QueueChanges, ReloadResult, Reply,
                      RouterClientError, RouterRequestError, RouterUnavailable)
from .sync import Pending, RouterClient, Subscription
from .sockets import CurveKeys, load_curve
from .wire import default_identity

__all__ = [
    "RouterClient", "AsyncRouterClient", "Subscription", "Pending", "Reply", "Event", "Ping", "EventsPage",
    "ReloadResult", "QueueChanges",
    "RouterClientError", "RouterRequestError", "RouterUnavailable", "ProtocolMismatch", "CurveKeys",
    "default_identity", "load_curve",
]

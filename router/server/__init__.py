"""The routing server: the engine behind a ZeroMQ event loop, its wire protocol and its journal (docs/server.md)."""

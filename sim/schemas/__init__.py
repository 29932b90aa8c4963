"""JSON Schemas of the simulator's JSON outputs (package data; see docs/outputs.md)."""

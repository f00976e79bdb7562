"""Reusable test tools: rawpeer (scripted raw-socket ZMTP peer) and relay (logging TCP relay)."""

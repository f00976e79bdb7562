"""The ZeroMQ side of the bridge: one backend object per set of sockets.

mongrel2.py binds PUSH+SUB and speaks Mongrel2's handler protocol; req.py connects a DEALER
to REP/ROUTER backends and speaks the JSON envelope. Each owns one receiving greenlet, which
only parses and hands messages to client connections without blocking (Connection.deliver*).
"""

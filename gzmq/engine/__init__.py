"""The engine: the only part of gzmq that runs greenlets and touches OS sockets (with
gzmq.transports). See docs/architecture.md for how the modules fit together.

pipe.py            pipe pairs between a socket and a peer: queues, HWMs, the pipe events
wait.py            HubLink, Signal, Mailbox and wait_until: waiting and waking across threads
socket_engine.py   a socket's engine: its listeners, connecters and sessions
endpoints.py       Listener and Connecter (tcp, ipc)
session.py         one ZMTP connection: a reader and a writer greenlet around a ZMTPConnection
codec.py           a session's sans-IO connection, from the socket's options
deferred.py        lazy writer wake-ups and inline flushes (in-hub request/reply fast path)
zap.py             a session's ZAP exchange with the handler socket
options.py         EngineOptions: the socket's options as the engine holds them
latch.py           Latch: waitable sets of outstanding items (MessageTracker, devices)
process.py         exit-time flushing, fork(), the Context.instance() lock
tasks.py           greenlets and native threads for devices and the authenticator
"""

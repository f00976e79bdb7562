"""The gevent engine: the only part of gzmq that touches gevent and OS sockets.

pipe.py     HWM-bounded queues between a socket and one peer, with wake-up hooks
wakeup.py   thread-aware wake-ups (a socket's hub may be another OS thread's)
session.py  one ZMTP connection: a reader and a writer greenlet around a ZMTPConnection
"""

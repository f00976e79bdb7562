"""pyzmq's zmq.eventloop for gzmq: ZMQStream (zmqstream) and the tornado IOLoop (ioloop).

Needs tornado (the `eventloop` extra: pip install 'gzmq[eventloop]'). A ZMQStream waits on
the socket's zmq.FD from tornado's loop, so it wants a context in I/O-thread mode (the
default for programs that do not monkey-patch with gevent): tornado's loop does not turn
gevent's hub, on which an in-hub context runs its connections.
"""

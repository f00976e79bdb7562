"""Logging over ZeroMQ, as pyzmq's zmq.log: see gzmq.log.handlers (PUBHandler, TopicLogger)."""

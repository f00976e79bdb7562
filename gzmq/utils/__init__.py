"""Helpers that pyzmq code reaches as `zmq.utils.*`; so far only Z85 (`gzmq.utils.z85`)."""

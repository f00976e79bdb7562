"""pyzmq's zmq.utils.jsonapi: dumps to bytes, loads from bytes or str (stdlib json)."""
import json

jsonmod = json  # pyzmq names the json module it uses


def dumps(o, **kwargs):
    return json.dumps(o, **kwargs).encode("utf-8")


def loads(s, **kwargs):
    if isinstance(s, (bytes, bytearray, memoryview)):
        s = bytes(s).decode("utf-8")
    return json.loads(s, **kwargs)

"""bridge: a Mongrel2-style HTTP front that puts browsers on a ZeroMQ network.

Run it with ``gzmq-bridge`` / ``python -m bridge`` (bridge.__main__); write handlers with
bridge.handler. See bridge/README.md. Importing this package imports nothing else, so the
command line can monkey-patch before bottle and the sockets are loaded.
"""

"""jsondb: a small in-memory key-value database served over ZeroMQ with a JSON protocol.

server.py (the database), client.py (a Python client library), cli.py (a command-line
client); README.md describes the wire protocol for clients in any language.
"""

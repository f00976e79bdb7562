"""Translations between an HTTP request and a backend message: no I/O, no gevent.

mongrel2.py builds Mongrel2 handler messages from requests; envelope.py is the JSON envelope
of ``req:`` routes. Both are driven by bridge.backends and tested bytes in, bytes out.
"""

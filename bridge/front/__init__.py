"""The browser-facing side: the HTTP/1.1 connection loop and the bottle apps it calls.

Why our own connection loop (connection.py on gevent.server.StreamServer) and not a pywsgi
handler class: Mongrel2 routes need raw writes. A handler writes whole HTTP responses itself,
in any number of pieces, at any time, to several connections at once (broadcast), and the
bridge must also notice a browser leaving while a handler holds its request. WSGI cannot
express that, and pywsgi writes headers and body in two sends without TCP_NODELAY (gevent
issue 1233: about 40 ms per keep-alive request behind delayed ACKs), answers oversized heads
with 400 rather than 431, and has no header or keep-alive timeout. So the loop parses HTTP
itself (bridge.http11, sans-IO), writes each small response in one send with TCP_NODELAY set,
and calls plain WSGI apps (bottle, app.py) for the routes that are ordinary request/response:
static files and /_bridge/health, /_bridge/metrics.
"""

"""tcp:// and ipc://: stream transports, whose connections the socket's engine runs.

bind() opens the listening OS socket here, on the socket's thread, so that an address in use
or a bad endpoint fails bind() itself; the engine then accepts on it. connect() validates
the address and makes the pipe at once (unless IMMEDIATE): messages queue for the peer
before it is reachable (libzmq's connect semantics); the engine's connecter (re)connects.
The address rules and OS socket settings are in gzmq.transports.tcp and .ipc.
"""
from ..constants import Event as MonitorEvent
from ..engine.wait import call_and_wait
from ..error import ZMQError


class StreamTransport:
    def __init__(self, net):
        self.net = net      # the tcp or ipc module: listen, parse_connect, connect, configure

    def bind(self, socket, scheme, address):
        addr = f"{scheme}://{address}"
        try:
            lsock, endpoint, unlink = self.net.listen(address, addr, socket.engine_options.transport)
        except ZMQError as exc:
            socket.monitor_event(MonitorEvent.BIND_FAILED, exc.errno, addr)
            raise
        fd = lsock.fileno()
        engine = socket.engine
        engine.io.call(engine.listen, endpoint, lsock, self.net, unlink)
        socket.monitor_event(MonitorEvent.LISTENING, fd, endpoint)
        return StreamBinding(engine, scheme, endpoint)

    def connect(self, socket, scheme, address):
        addr = f"{scheme}://{address}"
        options = socket.engine_options
        target = self.net.parse_connect(address, addr, options.transport)
        engine = socket.engine
        pipe = end = None
        if not options.immediate:
            pipe, end = socket.make_pipe(addr, True, engine.io)
            socket.attach_pipe(pipe)
        engine.io.call(engine.connect, addr, self.net, target, end)
        return StreamLink(engine, addr, pipe)


class StreamBinding:
    def __init__(self, engine, scheme, endpoint):
        self.engine = engine
        self.scheme = scheme
        self.endpoint = endpoint

    def matches(self, addr):
        if addr == self.endpoint:
            return True
        # libzmq accepts the form that was bound (tcp://*:5555) for the resolved endpoint.
        return self.scheme == "tcp" and addr.rsplit(":", 1)[-1] == self.endpoint.rsplit(":", 1)[-1]

    def unbind(self):
        # Waits until the engine has closed the listener (and the connections it accepted),
        # so the address is free when unbind() returns, even on an I/O thread.
        engine = self.engine
        call_and_wait(engine.io, engine.unbind, self.endpoint)

    def close(self, linger):
        pass    # the engine closes its listeners and connections at once (SocketEngine.close)


class StreamLink:
    def __init__(self, engine, endpoint, pipe):
        self.engine = engine
        self.endpoint = endpoint
        self.pipe = pipe

    def disconnect(self):
        engine = self.engine
        engine.io.call(engine.disconnect, self.endpoint)

    def close(self, linger):
        pass    # (see StreamBinding.close)

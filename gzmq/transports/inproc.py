"""inproc:// transport: two sockets of one Context joined by shared queues.

No ZMTP, no encoding, no copies: socket A's outbound HalfPipe *is* socket B's inbound one,
so a message is handed over as the list of frames A sent. The queue's HWM is A's SNDHWM plus
B's RCVHWM, as in libzmq. Bind and connect work in either order: a connect before the bind
creates A's side at once (messages queue in it) and the bind completes the pair.

The two sockets may belong to different OS threads, each with its own hub: every wake-up
crossing between them goes through the receiving socket's Wakeup (a gevent async watcher),
never a lock and never a busy loop.
"""
from ..constants import Errno, SocketOption
from ..engine.pipe import HalfPipe, Pipe
from ..error import ZMQError

O = SocketOption


class InprocLink:
    """What a connect('inproc://...') leaves in the socket's endpoint table."""

    def __init__(self, socket, name, pipe):
        self.socket = socket
        self.name = name
        self.pipe = pipe

    def stop(self):
        self.socket.context._inproc_cancel(self.name, self)


def _hwm(a, b):
    return 0 if not a or not b else a + b


def _identity(sock):
    return sock._options[O.ROUTING_ID]


def bind(sock, name):
    sock._wakeup.arm()
    ctx = sock.context
    pending = ctx._inproc_bind(name, sock)
    sock._inproc_bound.append(name)
    for link in pending:
        _complete(link, sock, name)


def unbind(sock, name):
    if name not in sock._inproc_bound:
        return False
    sock._inproc_bound.remove(name)
    sock.context._inproc_unbind(name, sock)
    return True


def connect(sock, name):
    sock._wakeup.arm()
    ctx = sock.context
    o = sock._options
    pipe = Pipe(sock, f"inproc://{name}", o[O.SNDHWM], o[O.RCVHWM])
    pipe.connect_side = True
    pipe.inproc_peer = False  # a placeholder until the bind side exists
    link = InprocLink(sock, name, pipe)
    binder = ctx._inproc_lookup(name, link)
    # libzmq creates the pipe at connect time, whether or not the peer is bound yet.
    pipe.inq.kick_consumer = sock._wakeup.wrap(sock._pipe_readable, pipe)
    pipe.outq.kick_producer = sock._wakeup.wrap(sock._pipe_writable, pipe)
    pipe.metadata = {}
    sock._pipes.append(pipe)
    sock._xattach(pipe)
    if binder is not None:
        _complete(link, binder, name)
    return link


def _complete(link, binder, name):
    """Join a connecter's pipe with a new pipe on the binding socket."""
    csock = link.socket
    cpipe = link.pipe
    b = binder._options
    c = csock._options
    cpipe.outq.set_hwm(_hwm(c[O.SNDHWM], b[O.RCVHWM]))
    cpipe.inq.set_hwm(_hwm(b[O.SNDHWM], c[O.RCVHWM]))
    bpipe = Pipe(binder, f"inproc://{name}", inq=cpipe.outq, outq=cpipe.inq)
    bpipe.inproc_peer = cpipe
    cpipe.inproc_peer = bpipe
    # Consumer/producer hooks: whoever reads a queue is woken on its own thread.
    cpipe.outq.kick_consumer = binder._wakeup.wrap(binder._pipe_readable, bpipe)
    cpipe.outq.kick_producer = csock._wakeup.wrap(csock._pipe_writable, cpipe)
    cpipe.inq.kick_consumer = csock._wakeup.wrap(csock._pipe_readable, cpipe)
    cpipe.inq.kick_producer = binder._wakeup.wrap(binder._pipe_writable, bpipe)
    bpipe.metadata = {"socket-type": csock._type_name.encode(), "identity": _identity(csock),
                      "peer-address": b""}
    cpipe.metadata = {"socket-type": binder._type_name.encode(), "identity": _identity(binder),
                      "peer-address": b""}
    bpipe.ready = True
    cpipe.ready = True
    binder._wakeup.call(_attach_bound, binder, bpipe)
    csock._wakeup.call(_ready_connected, csock, cpipe)


def _attach_bound(binder, bpipe):
    if binder._closed:
        return
    binder._pipes.append(bpipe)
    binder._xattach(bpipe)
    if not binder._xready(bpipe):
        binder._detach_pipe(bpipe)
        return
    if bpipe.inq:
        binder._pipe_readable(bpipe)
    binder._notify_out()


def _ready_connected(csock, cpipe):
    if csock._closed:
        return
    if not csock._xready(cpipe):
        csock._detach_pipe(cpipe)
        return
    if cpipe.inq:
        csock._pipe_readable(cpipe)
    csock._notify_out()


def subscription(pipe, topic, subscribe):
    """A SUB/XSUB tells its inproc publisher about a subscription change."""
    peer = pipe.inproc_peer
    if not peer:
        return
    owner = peer.owner
    owner._wakeup.call(owner._pipe_subscription, peer, bytes(topic), subscribe)


def close_pipe(pipe, linger):
    """The socket owning `pipe` closes. Messages it already sent stay readable by the peer
    (unless LINGER is 0); the peer's side goes away once drained."""
    peer = pipe.inproc_peer
    if linger == 0:
        pipe.outq.clear()
    pipe.alive = False
    if peer:
        owner = peer.owner
        owner._wakeup.call(_peer_closed, owner, peer)


def unlink(pipe):
    close_pipe(pipe, -1)


def _peer_closed(owner, pipe):
    if owner._closed or not pipe.alive:
        return
    # Stop sending to a gone peer; keep receiving what it left behind.
    owner._detach_pipe(pipe)
    if pipe.inq:
        # Still readable: re-add to the fair queue so the remaining messages are delivered.
        fq = getattr(owner, "_fq", None)
        if fq is not None:
            fq.activate(pipe)
            owner._notify_in()


def check_name(name):
    if not name:
        raise ZMQError(Errno.EINVAL, "inproc endpoint name must not be empty")

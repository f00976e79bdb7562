"""inproc:// transport: two sockets of one Context joined by shared queues.

No ZMTP, no encoding, no copies: the two sockets hold the two ends of one pipe pair, so a
message is handed over as the list of frames A sent. Each queue's HWM is the sender's SNDHWM
plus the receiver's RCVHWM, as in libzmq. Bind and connect work in either order: a connect
before the bind creates the pair at once (messages queue in it) and the bind takes the other
end.

The two sockets may belong to different OS threads, each with its own hub: every wake-up
crossing between them goes through the receiving socket's Wakeup (a gevent async watcher),
never a lock and never a busy loop.
"""
from ..constants import Errno, SocketOption
from ..engine.pipe import pipe_pair
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
    ctx = sock.context
    o = sock._options
    # libzmq creates the pipe at connect time, whether or not the peer is bound yet; the other
    # end has no owner until the bind takes it (nothing can wake it before: only its owner
    # reads or writes it).
    pipe, _ = pipe_pair(sock, sock._mailbox, None, None, o[O.SNDHWM], o[O.RCVHWM],
                        f"inproc://{name}", conflate_ba=sock._conflate_inbound())
    pipe.connect_side = True
    pipe.inproc_peer = False  # a placeholder until the bind side exists
    link = InprocLink(sock, name, pipe)
    binder = ctx._inproc_lookup(name, link)
    sock._attach_pipe(pipe)
    if binder is not None:
        _complete(link, binder, name)
    return link


def _complete(link, binder, name):
    """Join a connecter's pipe with a new pipe on the binding socket."""
    csock = link.socket
    cpipe = link.pipe
    b = binder._options
    c = csock._options
    cpipe.set_sndhwm(_hwm(c[O.SNDHWM], b[O.RCVHWM]))
    cpipe.set_rcvhwm(_hwm(b[O.SNDHWM], c[O.RCVHWM]))
    bpipe = cpipe.peer
    if binder._conflate_inbound():
        bpipe.conflate_inbound()
    # The binder's end reports to the binder, on the binder's thread.
    bpipe.mailbox = binder._mailbox
    bpipe.sink = binder
    bpipe.endpoint = f"inproc://{name}"
    bpipe.inproc_peer = cpipe
    cpipe.inproc_peer = bpipe
    bpipe.metadata = {"socket-type": csock._type_name.encode(), "identity": _identity(csock),
                      "peer-address": b""}
    cpipe.metadata = {"socket-type": binder._type_name.encode(), "identity": _identity(binder),
                      "peer-address": b""}
    # Each socket takes its end on its own thread (they may be different threads).
    binder._mailbox.call(binder.attach_pipe, bpipe)
    csock._mailbox.call(csock.attach_pipe, cpipe)
    if csock._closed:
        # Closed before the bind with messages still queued (LINGER): the binder gets them,
        # then sees the peer gone.
        cpipe.terminate()


def close_pipe(pipe, linger):
    """The socket owning `pipe` closes. Messages it already sent stay readable by the peer
    (unless LINGER is 0); the peer's end leaves its socket once drained."""
    if linger == 0:
        pipe.drop_outbound()
    pipe.alive = False
    pipe.terminate()


def check_name(name):
    if not name:
        raise ZMQError(Errno.EINVAL, "inproc endpoint name must not be empty")

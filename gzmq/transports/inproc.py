"""inproc:// transport: two sockets of one Context joined by a pipe pair.

No ZMTP, no encoding, no copies: the two sockets hold the two ends of one pipe pair, so a
message is handed over as the list of frames that was sent. Each queue's HWM is the sender's
SNDHWM plus the receiver's RCVHWM, as in libzmq. Bind and connect work in either order: a
connect before the bind creates the pair at once (messages queue in it) and the bind takes
the other end.

The two sockets may belong to different OS threads, each with its own hub: each end reports
to its own socket through that socket's mailbox, never a lock and never a busy loop. The
names live in the Context (its inproc registry), shared by every thread that uses it.
"""
import weakref

from ..constants import Errno
from ..error import ZMQError


def _hwm(a, b):
    return 0 if not a or not b else a + b


class InprocTransport:
    def bind(self, socket, scheme, address):
        _check_name(address)
        binding = InprocBinding(socket, address)
        for link in socket.context._inproc_bind(address, binding):
            _join(link, binding)
        return binding

    def connect(self, socket, scheme, address):
        _check_name(address)
        endpoint = f"inproc://{address}"
        # libzmq creates the pipe at connect time, whether or not the peer is bound yet; the
        # other end has no owner until the bind takes it (nothing can wake it before: only its
        # owner reads or writes it).
        pipe, _ = socket.make_pipe(endpoint, True, None)
        pipe.inproc_peer = False  # a placeholder until the bind side exists
        link = InprocLink(socket, address, pipe)
        binding = socket.context._inproc_lookup(address, link)
        socket.attach_pipe(pipe)
        if binding is not None:
            _join(link, binding)
        return link


class InprocBinding:
    def __init__(self, socket, name):
        self.socket = weakref.proxy(socket)    # (the registry must not keep it alive)
        self.name = name
        self.endpoint = f"inproc://{name}"
        self.pipes = []     # the binder's ends of the pipes joined through this name

    def matches(self, addr):
        return addr == self.endpoint

    def usable(self):
        """Can a connect join now (the bound socket is open)?"""
        try:
            return not self.socket.closed
        except ReferenceError:
            return False

    def unbind(self):
        """The name is free again; the peers already joined stay (as libzmq)."""
        self.socket.context._inproc_unbind(self.name, self)

    def close(self, linger):
        self.unbind()
        for pipe in self.pipes:
            _leave(pipe, linger)


class InprocLink:
    """What a connect('inproc://...') leaves in the socket's endpoint table."""

    def __init__(self, socket, name, pipe):
        self.socket = weakref.proxy(socket)    # (a pending connect must not keep it alive)
        self.name = name
        self.endpoint = f"inproc://{name}"
        self.pipe = pipe

    def disconnect(self):
        self.socket.context._inproc_cancel(self.name, self)

    def close(self, linger):
        """The socket closes. Messages it already sent stay readable by the peer (unless
        LINGER is 0); the peer's end leaves its socket once drained. A connect still waiting
        for its bind, with messages queued and LINGER, stays registered, so a later bind
        receives them (as libzmq)."""
        pipe = self.pipe
        if pipe.inproc_peer is False and linger != 0 and pipe.pending_out():
            return
        self.disconnect()
        _leave(pipe, linger)


def _leave(pipe, linger):
    if linger == 0:
        pipe.drop_outbound()
    pipe.terminate()


def _join(link, binding):
    """The binder takes the other end of a connecter's pipe."""
    binder = binding.socket
    name = binding.name
    cpipe = link.pipe
    b = binder.engine_options
    try:
        csock = link.socket
        c = csock.engine_options
    except ReferenceError:
        csock = c = None        # collected since (it queued messages with LINGER)
    if c is not None:
        cpipe.set_sndhwm(_hwm(c.sndhwm, b.rcvhwm))
        cpipe.set_rcvhwm(_hwm(b.sndhwm, c.rcvhwm))
    bpipe = cpipe.peer
    if b.conflate:
        bpipe.conflate_inbound()
    # The binder's end reports to the binder, on the binder's thread.
    bpipe.mailbox = binder.mailbox
    bpipe.sink = binder
    bpipe.endpoint = f"inproc://{name}"
    bpipe.inproc_peer = cpipe
    cpipe.inproc_peer = bpipe
    bpipe.metadata = {"socket-type": c.type_name.encode() if c else b"",
                      "identity": c.routing_id if c else b"", "peer-address": b""}
    cpipe.metadata = {"socket-type": b.type_name.encode(), "identity": b.routing_id,
                      "peer-address": b""}
    binding.pipes.append(bpipe)
    # Each socket takes its end on its own thread (they may be different threads).
    binder.mailbox.call(_take, binder, bpipe)
    try:
        csock.mailbox.call(csock.pipe_ready, cpipe)
        gone = csock.closed
    except (AttributeError, ReferenceError):
        gone = True
    if gone:
        # Closed before the bind with messages still queued (LINGER): the binder gets them,
        # then sees the peer gone.
        cpipe.terminate()


def _take(binder, bpipe):
    binder.attach_pipe(bpipe)
    binder.pipe_ready(bpipe)


def _check_name(name):
    if not name:
        raise ZMQError(Errno.EINVAL, "inproc endpoint name must not be empty")

"""Context: the container of sockets, as pyzmq's zmq.Context.

It creates sockets, holds the inproc:// endpoint registry (shared by every thread that uses
the context), and implements termination: term() makes every blocking call on its sockets
raise ContextTerminated, waits until all sockets are closed and until lingering messages
have been delivered (or LINGER expired), then returns. destroy(linger) closes the sockets
for you first. Waiting is cooperative (gevent), from whichever thread calls term().
"""
import atexit
import os
import sys
import threading
import time
import warnings
import weakref
from types import GenericAlias

import gevent
import gevent.monkey
from gevent.lock import Semaphore

from .constants import ContextOption, Errno, SocketOption
from .engine.wait import Signal, thread_ident, wait_until
from .error import ContextTerminated, ZMQError
from .shadow import Shadow, make_shadow, register as register_address

# Guard the creation of the shared Context.instance(). A subclass's __init__ may switch
# greenlets (time.sleep under patch_all, I/O) while the native lock is held; a second greenlet of
# the same OS thread blocking on that lock would then freeze the hub for good. So greenlets of
# one thread queue on a gevent Semaphore (that thread's gate) first, and only one of them at a
# time contends for the native lock with other OS threads.
_instance_lock = gevent.monkey.get_original("_thread", "allocate_lock")()
_instance_gates = gevent.monkey.get_original("_thread", "_local")()


def _instance_gate():
    gate = getattr(_instance_gates, "gate", None)
    if gate is None:
        gate = _instance_gates.gate = Semaphore()
    return gate


_LIVE_CONTEXTS = weakref.WeakSet()
EXIT_FLUSH_SECONDS = 1.0


def _flush_at_exit():
    """Give connected writers a last turn when the interpreter exits.

    With libzmq, a message sent just before the program ends usually still leaves: the I/O
    thread writes it while Python shuts down. gzmq's writers are greenlets of this thread, so
    without this a final `send()` followed by the end of the program would never reach the
    kernel. We run the hub until every *connected* peer's queue is written, as long as the
    peers keep reading: a writer behind a full kernel buffer still counts while the queues
    shrink, and we give up after EXIT_FLUSH_SECONDS without progress. That is libzmq's practical
    behaviour (a peer that reads gets everything, as with pyzmq's default infinite LINGER),
    without Context.term()'s unbounded wait for peers that are not there or do not read.
    """
    me = thread_ident()
    deadline = time.monotonic() + EXIT_FLUSH_SECONDS
    least = None
    try:
        while True:
            pending = False
            queued = 0
            for ctx in list(_LIVE_CONTEXTS):
                engines = {sock._engine for sock in list(ctx._sockets)}
                engines.update(item for item in list(ctx._lingering) if hasattr(item, "unflushed"))
                for engine in engines:
                    if engine.io.thread != me:
                        continue
                    busy, count = engine.unflushed()
                    if busy:
                        pending = True
                        queued += count
            if not pending:
                return
            # Judged after each turn, however long the writers kept the hub busy.
            if least is None or queued < least:  # progress: the peers are reading
                least = queued
                deadline = time.monotonic() + EXIT_FLUSH_SECONDS
            elif time.monotonic() >= deadline:
                return
            gevent.sleep(0.001)  # bounded, exit-time only: lets the writer greenlets run
    except Exception:  # pragma: no cover - never let exit-time flushing raise
        pass


atexit.register(_flush_at_exit)


def _serve_until_threads_end():
    """Keep this thread's sockets working while the interpreter waits for other threads.

    When the main thread's code ends, Python joins the non-daemon threads before anything else
    (threading._shutdown, before atexit). With libzmq the I/O thread goes on meanwhile, so a
    worker thread still receives what the main thread sent last and can still talk to the main
    thread's sockets. gzmq's I/O for those sockets runs on this thread's hub, which a native
    join would freeze. So, if this thread owns open sockets, we join the other non-daemon
    threads from a helper thread and keep the hub running meanwhile. Under
    patch_all the join is cooperative already and nothing needs doing.
    """
    try:
        if gevent.monkey.is_module_patched("threading"):
            return
        me = thread_ident()
        owns_sockets = any(not s.closed and s._mailbox.thread == me
                           for ctx in list(_LIVE_CONTEXTS) for s in list(ctx._sockets))
        if not owns_sockets:
            return
        current = threading.current_thread()
        others = [t for t in threading.enumerate()
                  if t is not current and not t.daemon and t.is_alive()]
        if others:
            # A plain native thread joins them (no pool: nothing may be imported or registered
            # with threading this late) and wakes this hub when they have ended.
            joined = []
            done = Signal()

            def join_all():
                try:
                    for t in others:
                        t.join()
                finally:
                    joined.append(True)
                    done.fire()

            gevent.monkey.get_original("_thread", "start_new_thread")(join_all, ())
            wait_until(lambda: joined, None, (done,))
        _flush_at_exit()
    except Exception:  # pragma: no cover - never let exit-time serving raise
        pass


def _forked_to_exec():
    """Is this fork a subprocess being started? (subprocess with preexec_fn, gevent.subprocess:
    the child only sets up and calls exec; gevent.subprocess runs Python in it and needs its hub
    as it is, and an exec'd program inherits nothing of gzmq anyway.)"""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith("subprocess.py"):
            return True
        frame = frame.f_back
    return False


def _after_fork_in_child():
    """In a child made by fork(), the parent's gzmq objects go dead, as libzmq's do.

    libzmq's I/O threads do not survive fork(), so in the child a context and the sockets it
    inherited do nothing, and pyzmq's rule is to make new ones there. gzmq's I/O runs on the
    forking thread's gevent hub, which the child does inherit, and gevent's loop re-arms its
    watchers after a fork: the parent's listeners would accept connections meant for the
    parent (a child's own connect() could be answered by its inherited copy of the binder),
    its readers would take bytes from the parent's streams, its writers and heartbeats would
    write into them. So, in the child: the inherited contexts and sockets are marked closed
    without touching anything they share with the parent (no shutdown, no unlink of ipc paths,
    no exit-time flush), and if the forking thread ran gzmq sockets, its hub and loop are
    dropped so that none of their greenlets, watchers or timers ever runs again; the child's
    next gevent call starts a fresh hub. New contexts and sockets in the child work normally
    (Context.instance() makes a new one, as pyzmq's does).
    """
    inherited = list(_LIVE_CONTEXTS)
    if not inherited or _forked_to_exec():
        return
    me = thread_ident()
    ours = False
    for ctx in inherited:
        _LIVE_CONTEXTS.discard(ctx)
        ctx._closed = ctx._terminated = True
        for sock in list(ctx._sockets):
            sock._closed = True
            ours = ours or sock._mailbox.thread == me
        ctx._sockets.clear()
    if ours:
        from gevent._hub_local import get_hub_if_exists
        hub = get_hub_if_exists()
        if hub is not None and gevent.getcurrent() is not hub:
            hub.destroy(destroy_loop=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


if hasattr(threading, "_register_atexit"):
    # Runs at the start of threading._shutdown, before the non-daemon threads are joined.
    threading._register_atexit(_serve_until_threads_end)


class Context:
    """A gzmq context. Thread-safe to share; sockets are not (as in libzmq)."""

    _instance = None
    _instance_pid = None
    _shadow = False
    # pyzmq's Context is Generic (zmq.Context[zmq.Socket[bytes]] in annotations).
    __class_getitem__ = classmethod(GenericAlias)
    _socket_class = None         # subclasses may set it, as in pyzmq (default: gzmq.Socket)

    def __new__(cls, io_threads=1, shadow=0, **kwargs):
        # Context(other_context) and Context(shadow=ctx_or_address) make a shadow (pyzmq >= 25).
        if shadow or isinstance(io_threads, (Context, Shadow)):
            return make_shadow(shadow or io_threads, Context)
        return super().__new__(cls)

    def __init__(self, io_threads=1, **kwargs):
        if not isinstance(io_threads, int) or io_threads < 0:
            raise ZMQError(Errno.EINVAL, f"io_threads must be an int >= 0, not {io_threads!r}")
        self._sockets = weakref.WeakSet()
        self._inproc = {}            # name -> bound socket
        self._inproc_pending = {}    # name -> [InprocLink] connected before the bind
        self._terminated = False
        self._closed = False
        self._lingering = set()      # closed sockets' engines still delivering (see _linger_begin)
        self._changed = Signal()     # a socket closed or stopped lingering (term() waits)
        self._threads = set()        # OS threads that own (or owned) sockets of this context
        self._options = {ContextOption.IO_THREADS: io_threads, ContextOption.MAX_SOCKETS: 1023,
                         ContextOption.SOCKET_LIMIT: 65535,
                         ContextOption.MAX_MSGSZ: 0x7FFFFFFF, ContextOption.MSG_T_SIZE: 64,
                         ContextOption.THREAD_SCHED_POLICY: -1}
        self._sockopts = {}          # defaults for new sockets (pyzmq: ctx.linger = 0 ...)
        self.shadow_address = id(self)
        _LIVE_CONTEXTS.add(self)
        register_address(self)

    # -- pyzmq API ---------------------------------------------------------------------------
    @classmethod
    def instance(cls, io_threads=1):
        """The process-wide shared context (re-created after fork or after it was closed)."""
        import os
        if cls._instance is None or cls._instance.closed or cls._instance_pid != os.getpid():
            with _instance_gate(), _instance_lock:
                if cls._instance is None or cls._instance.closed or cls._instance_pid != os.getpid():
                    cls._instance = cls(io_threads=io_threads)
                    cls._instance_pid = os.getpid()
        return cls._instance

    @property
    def closed(self):
        return self._closed

    @property
    def underlying(self):
        return id(self)

    @classmethod
    def shadow(cls, address):
        """Another handle on the context `address` (a Context or its `underlying`)."""
        return make_shadow(address, Context)

    def __copy__(self, memo=None):
        return make_shadow(self, Context)

    __deepcopy__ = __copy__

    @property
    def sockopts(self):
        """Default options for new sockets ({option: value}), as pyzmq's ctx.sockopts."""
        return self._sockopts

    def socket(self, socket_type, socket_class=None, **kwargs):
        """Create a Socket of the given type (zmq.PUSH, zmq.REQ, ...)."""
        if self._closed:
            raise ZMQError(Errno.ENOTSUP, "Context is closed")   # pyzmq's check
        if self._terminated:
            raise ZMQError(Errno.ETERM, "Context was terminated")
        from .socket import Socket
        cls = socket_class or self._socket_class or Socket
        sock = cls(self, socket_type, **kwargs)
        for option, value in self._sockopts.items():
            try:
                sock.setsockopt(option, value)
            except ZMQError:
                pass
        return sock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # pyzmq >= 24: leaving the block destroys the context, closing (with a ResourceWarning)
        # any socket left open, instead of a term() that would wait for them forever.
        self._destroy(None, warn_open=True)

    def __repr__(self):
        n = sum(1 for s in list(self._sockets) if not s.closed)
        sockets = f"{n} socket{'s' if n > 1 else ''}" if n else ""
        state = " closed" if self._closed else ""
        return f"<gzmq.Context({sockets}) at {hex(id(self))}{state}>"

    def __dir__(self):
        return sorted(set(dir(type(self))) | set(self.__dict__) | set(ContextOption.__members__))

    def setsockopt(self, option, value):
        """Default socket option for sockets created afterwards (pyzmq's ctx.setsockopt)."""
        self._sockopts[SocketOption(option)] = value

    def getsockopt(self, option):
        return self._sockopts[SocketOption(option)]

    def set(self, option, value):
        try:
            option = ContextOption(option)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"unknown context option {option!r}") from None
        self._options[option] = value

    def get(self, option):
        try:
            return self._options[ContextOption(option)]
        except (KeyError, ValueError):
            raise ZMQError(Errno.EINVAL, f"context option {option!r} cannot be read") from None

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        upper = name.upper()
        if upper in ContextOption.__members__:
            try:
                return self.get(ContextOption[upper])
            except ZMQError:
                raise AttributeError(f"context option {upper} cannot be read") from None
        if upper in SocketOption.__members__:
            try:
                return self._sockopts[SocketOption[upper]]
            except KeyError:   # pyzmq: an unset default is an AttributeError, not None
                raise AttributeError(f"Context has no default for {upper}") from None
        raise AttributeError(f"Context has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name.startswith("_") or name == "shadow_address":
            object.__setattr__(self, name, value)
            return
        upper = name.upper()
        if upper in ContextOption.__members__:
            self.set(ContextOption[upper], value)
        elif upper in SocketOption.__members__:
            self.setsockopt(SocketOption[upper], value)
        else:
            object.__setattr__(self, name, value)

    def term(self):
        """Terminate: wake blocked calls with ContextTerminated, then wait until every socket
        is closed and every lingering message delivered or expired."""
        if self._closed:
            return
        self._terminated = True
        for sock in list(self._sockets):
            sock._notify_term()
        # Sockets of other OS threads are closed (and linger) over there; each closing or
        # lingering socket fires _changed.
        wait_until(self._idle, None, (self._changed,))
        self._closed = True
        if Context._instance is self:
            Context._instance = None

    def destroy(self, linger=None):
        """Close every socket of this context (with `linger` if given), then term()."""
        self._destroy(linger, warn_open=False)

    def _destroy(self, linger, warn_open):
        if self._closed:
            return
        for sock in list(self._sockets):
            if not sock.closed:
                if warn_open:
                    warnings.warn(f"Destroying context with unclosed socket {sock}",
                                  ResourceWarning, stacklevel=3, source=sock)
                sock._mailbox.call(sock.close, linger)
        self.term()

    # -- bookkeeping (called by sockets and the engine) ---------------------------------------
    def _register_socket(self, sock):
        if self._terminated:
            raise ContextTerminated()
        self._sockets.add(sock)
        self._threads.add(sock._mailbox.thread)

    def _idle(self):
        # gzmq's own sockets (the ZAP client pool) close themselves when term() reaches their
        # hub; term() does not wait for them: another thread's hub may be blocked (in a join()
        # on this very term(), say), and libzmq has no such sockets to wait for.
        return (not any(not s.closed and not s._internal for s in list(self._sockets))
                and not self._lingering)

    def _signal_term_waiters(self):
        self._changed.fire()

    def _socket_closed(self, sock):
        self._changed.fire()

    # A closed socket's engine (or multicast link) that still delivers queued messages:
    # term() waits until it is done (or its LINGER expired).
    def _linger_begin(self, item):
        self._lingering.add(item)

    def _linger_end(self, item):
        self._lingering.discard(item)
        self._changed.fire()

    def _resource_done(self):
        if self._changed.waiters:
            self._changed.fire()

    # inproc registry ---------------------------------------------------------------------
    def _inproc_bind(self, name, sock):
        if name in self._inproc:
            raise ZMQError(Errno.EADDRINUSE, f"inproc://{name}: address already in use")
        self._inproc[name] = sock
        return self._inproc_pending.pop(name, [])

    def _inproc_unbind(self, name, sock):
        if self._inproc.get(name) is sock:
            del self._inproc[name]

    def _inproc_lookup(self, name, link):
        sock = self._inproc.get(name)
        if sock is None or sock.closed:
            self._inproc_pending.setdefault(name, []).append(link)
            return None
        return sock

    def _inproc_cancel(self, name, link):
        pending = self._inproc_pending.get(name)
        if pending and link in pending:
            pending.remove(link)

    def _thread(self):
        return thread_ident()

"""Context: the container of sockets, as pyzmq's zmq.Context.

It creates sockets, holds the inproc:// endpoint registry (shared by every thread that uses
the context), chooses where its sockets' I/O runs (in the hub of the thread that uses a
socket, or in background I/O threads: gzmq.engine.io_thread), and implements termination:
term() makes every blocking call on its sockets raise ContextTerminated, waits until all
sockets are closed and until lingering messages have been delivered (or LINGER expired), then
stops its I/O threads and returns. destroy(linger) closes the sockets for you first. Waiting
is cooperative (gevent), from whichever thread calls term().
"""
from __future__ import annotations

import atexit
import errno as _errno
import gc
import os
import sys
import threading
import warnings
import weakref
from types import GenericAlias
from typing import Any, Callable, Optional, TypeVar, overload

from .constants import ContextOption, Errno, SocketOption
from .engine import process
from .engine import io_thread
from .engine.wait import Signal, hub_link, thread_ident, wait_until
from .error import ContextTerminated, ZMQError
from .shadow import Shadow, make_shadow, register as register_address
from .socket import Socket
from .sockets.base import set_default_context

_LIVE_CONTEXTS: weakref.WeakSet[Context] = weakref.WeakSet()
_S = TypeVar("_S")


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
    for ctx in inherited:
        _LIVE_CONTEXTS.discard(ctx)
        ctx._closed = ctx._terminated = True
        for sock in list(ctx._sockets):
            sock._closed = True
        ctx._sockets.clear()
    process.forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


atexit.register(process.at_exit)
if hasattr(threading, "_register_atexit"):
    # Runs at the start of threading._shutdown, before the non-daemon threads are joined.
    threading._register_atexit(process.serve_until_threads_end)


_SIGNED_CONTEXT_OPTIONS = frozenset({ContextOption.THREAD_SCHED_POLICY})


class Context:
    """A gzmq context. Thread-safe to share; sockets are not (as in libzmq)."""

    _instance: Optional[Context] = None
    _instance_pid: Optional[int] = None
    _shadow = False
    # pyzmq's Context is Generic (zmq.Context[zmq.Socket[bytes]] in annotations).
    __class_getitem__: Any = classmethod(GenericAlias)
    _socket_class: Optional[Callable[..., Any]] = None   # subclasses may set it, as in pyzmq (default: gzmq.Socket)

    def __new__(cls, io_threads: Any = 1, shadow: Any = 0, **kwargs: Any) -> Any:
        # (io_mode: gzmq's own keyword, "hub" or "thread"; see io_mode below)
        # Context(other_context) and Context(shadow=ctx_or_address) make a shadow (pyzmq >= 25).
        if shadow or isinstance(io_threads, (Context, Shadow)):
            return make_shadow(shadow or io_threads, Context)
        return super().__new__(cls)

    def __init__(self, io_threads: int = 1, io_mode: Optional[str] = None, **kwargs: Any) -> None:
        if not isinstance(io_threads, int) or io_threads < 0:
            raise ZMQError(Errno.EINVAL, f"io_threads must be an int >= 0, not {io_threads!r}")
        try:
            self._io_mode = io_thread.io_mode(io_threads, io_mode)
        except ValueError as exc:
            raise ZMQError(Errno.EINVAL, str(exc)) from None
        self._io_threads: list[Any] = []   # started with the first socket (I/O-thread mode)
        self._io_next = 0
        self._io_lock = io_thread.native_lock()
        self._sockets: weakref.WeakSet[Any] = weakref.WeakSet()
        self._inproc: dict[str, Any] = {}   # name -> its binding (gzmq.transports.inproc)
        self._inproc_pending: dict[str, list[Any]] = {}   # name -> [InprocLink] connected before the bind
        self._terminated = False
        self._closed = False
        self._lingering: set[Any] = set()   # closed sockets' engines still delivering (see _linger_begin)
        self._changed = Signal()     # a socket closed or stopped lingering (term() waits)
        self._options = {ContextOption.IO_THREADS: io_threads, ContextOption.MAX_SOCKETS: 1023,
                         ContextOption.SOCKET_LIMIT: 65535,
                         ContextOption.MAX_MSGSZ: 0x7FFFFFFF, ContextOption.MSG_T_SIZE: 64,
                         ContextOption.THREAD_SCHED_POLICY: -1,
                         ContextOption.IPV6: 0, ContextOption.BLOCKY: 1}
        self._sockopts: dict[int, Any] = {}   # defaults for new sockets (pyzmq: ctx.linger = 0 ...)
        self.shadow_address = id(self)
        _LIVE_CONTEXTS.add(self)
        register_address(self)

    # -- pyzmq API ---------------------------------------------------------------------------
    @classmethod
    def instance(cls, io_threads: int = 1, io_mode: Optional[str] = None) -> Context:
        """The process-wide shared context (re-created after fork or after it was closed)."""
        if cls._instance is None or cls._instance.closed or cls._instance_pid != os.getpid():
            with process.instance_lock():
                if cls._instance is None or cls._instance.closed or cls._instance_pid != os.getpid():
                    cls._instance = cls(io_threads=io_threads, io_mode=io_mode)
                    cls._instance_pid = os.getpid()
        return cls._instance

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def io_mode(self) -> str:
        """Where this context's sockets run their I/O: "hub" (the gevent hub of the thread
        that uses the socket) or "thread" (background I/O threads). gzmq's own; see the
        README's "Two I/O modes"."""
        return self._io_mode

    @property
    def underlying(self) -> int:
        return id(self)

    @classmethod
    def shadow(cls, address: Any) -> Context:
        """Another handle on the context `address` (a Context or its `underlying`)."""
        return make_shadow(address, Context)

    def __copy__(self, memo: Any = None) -> Context:
        return make_shadow(self, Context)

    __deepcopy__ = __copy__

    @property
    def sockopts(self) -> dict[int, Any]:
        """Default options for new sockets ({option: value}), as pyzmq's ctx.sockopts."""
        return self._sockopts

    @overload
    def socket(self, socket_type: int, socket_class: None = None, **kwargs: Any) -> Socket: ...

    @overload
    def socket(self, socket_type: int, socket_class: Callable[..., _S], **kwargs: Any) -> _S: ...

    def socket(self, socket_type: int, socket_class: Optional[Callable[..., Any]] = None, **kwargs: Any) -> Any:
        """Create a Socket of the given type (zmq.PUSH, zmq.REQ, ...)."""
        if self._closed:
            raise ZMQError(Errno.ENOTSUP, "Context is closed")   # pyzmq's check
        if self._terminated:
            raise ZMQError(Errno.ETERM, "Context was terminated")
        if sum(1 for s in list(self._sockets) if not s.closed) >= self._options[ContextOption.MAX_SOCKETS]:
            raise ZMQError(_errno.EMFILE, "Too many open files (the context's MAX_SOCKETS)")
        cls = socket_class or self._socket_class or Socket
        sock = cls(self, socket_type, **kwargs)
        # Context-wide defaults (libzmq): IPV6, and BLOCKY=0 gives new sockets LINGER 0.
        if self._options[ContextOption.IPV6]:
            sock.setsockopt(SocketOption.IPV6, 1)
        if not self._options[ContextOption.BLOCKY]:
            sock.setsockopt(SocketOption.LINGER, 0)
        for option, value in self._sockopts.items():
            try:
                sock.setsockopt(option, value)
            except ZMQError:
                pass
        return sock

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        # pyzmq >= 24: leaving the block destroys the context, closing (with a ResourceWarning)
        # any socket left open, instead of a term() that would wait for them forever.
        self._destroy(None, warn_open=True)

    def __repr__(self) -> str:
        n = sum(1 for s in list(self._sockets) if not s.closed)
        sockets = f"{n} socket{'s' if n > 1 else ''}" if n else ""
        state = " closed" if self._closed else ""
        return f"<gzmq.Context({sockets}) at {hex(id(self))}{state}>"

    def __dir__(self) -> list[str]:
        return sorted(set(dir(type(self))) | set(self.__dict__) | set(ContextOption.__members__))

    def setsockopt(self, option: int, value: Any) -> None:
        """Default socket option for sockets created afterwards (pyzmq's ctx.setsockopt)."""
        self._sockopts[SocketOption(option)] = value

    def getsockopt(self, option: int) -> Any:
        return self._sockopts[SocketOption(option)]

    def set(self, option: int, value: int) -> None:
        try:
            option = ContextOption(option)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"unknown context option {option!r}") from None
        if option == ContextOption.MSG_T_SIZE:
            raise ZMQError(Errno.EINVAL, "MSG_T_SIZE is read-only")
        if not isinstance(value, int) or value < 0 and option not in _SIGNED_CONTEXT_OPTIONS:
            raise ZMQError(Errno.EINVAL, f"context option {option.name} takes an int >= 0")
        if option in (ContextOption.SOCKET_LIMIT, ContextOption.THREAD_AFFINITY_CPU_ADD,
                      ContextOption.THREAD_AFFINITY_CPU_REMOVE):
            # SOCKET_LIMIT shares its number with THREAD_PRIORITY (libzmq sets the latter,
            # and SOCKET_LIMIT reads back its fixed value); CPU affinity is write-only.
            # gzmq's I/O threads are Python threads: accepted, without effect on scheduling.
            return
        self._options[option] = value

    def get(self, option: int) -> int:
        try:
            return self._options[ContextOption(option)]
        except (KeyError, ValueError):
            raise ZMQError(Errno.EINVAL, f"context option {option!r} cannot be read") from None

    def __getattr__(self, name: str) -> Any:
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

    def __setattr__(self, name: str, value: Any) -> None:
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

    def term(self) -> None:
        """Terminate: wake blocked calls with ContextTerminated, then wait until every socket
        is closed and every lingering message delivered or expired."""
        if self._closed:
            return
        self._terminated = True
        for sock in list(self._sockets):
            sock._notify_term()
        if any(not s.closed and not s._mailbox.link.alive() for s in list(self._sockets)):
            # A socket whose thread ended without closing it is garbage, perhaps held in a
            # reference cycle (pending commands): collect it now, which closes it (pyzmq too
            # closes collected sockets), rather than wait for the collector's next turn.
            gc.collect()
        # Sockets of other OS threads are closed (and linger) over there; each closing or
        # lingering socket fires _changed.
        wait_until(self._idle, None, (self._changed,))
        self._closed = True
        self._stop_io_threads()
        if Context._instance is self:
            Context._instance = None

    def _stop_io_threads(self):
        with self._io_lock:
            threads, self._io_threads = self._io_threads, []
        for thread in threads:
            thread.stop()

    def __del__(self):
        # pyzmq destroys a context that is collected. Here nothing can still run on its I/O
        # threads (an open socket or a lingering engine would keep the context alive), so
        # they just stop; a finalizer must not block.
        if self._shadow or self.__dict__.get("_closed", True):
            return
        try:
            self._closed = self._terminated = True
            self._stop_io_threads_now()
        except Exception:    # pragma: no cover - never raise from a finalizer
            pass

    def _stop_io_threads_now(self):
        threads, self._io_threads = self.__dict__.get("_io_threads", []), []
        for thread in threads:
            thread.stop(wait=False)

    def _io_link(self):
        """The HubLink of the hub a new socket's engine runs on (see io_mode)."""
        if self._io_mode == io_thread.HUB:
            return hub_link()
        with self._io_lock:
            if self._closed:
                raise ContextTerminated()
            if not self._io_threads:
                count = max(1, self._options[ContextOption.IO_THREADS])
                self._io_threads = [io_thread.IOThread(f"gzmq-io-{i}") for i in range(count)]
            thread = self._io_threads[self._io_next % len(self._io_threads)]
            self._io_next += 1
        return thread.link

    def destroy(self, linger: Optional[int] = None) -> None:
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
                link = sock._mailbox.link
                if link.thread == thread_ident() or (link.waiting() and link.alive()):
                    sock._mailbox.call(sock.close, linger)   # on its own thread
                else:
                    # Its thread is gone, or busy elsewhere (a native wait, the program's own
                    # code) and perhaps never back: close it here, as pyzmq does.
                    sock.close(linger)
        self.term()

    # -- bookkeeping (called by sockets and the engine) ---------------------------------------
    def _register_socket(self, sock):
        if self._terminated:
            raise ContextTerminated()
        self._sockets.add(sock)

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

    # inproc registry (gzmq.transports.inproc) -------------------------------------------
    def _inproc_bind(self, name, binding):
        """Register a bound name; returns the connects that were waiting for it."""
        if name in self._inproc:
            raise ZMQError(Errno.EADDRINUSE, f"inproc://{name}: address already in use")
        self._inproc[name] = binding
        return self._inproc_pending.pop(name, [])

    def _inproc_unbind(self, name, binding):
        if self._inproc.get(name) is binding:
            del self._inproc[name]

    def _inproc_lookup(self, name, link):
        """The binding of `name`, or None: then `link` waits for a bind."""
        binding = self._inproc.get(name)
        if binding is None or not binding.usable():
            self._inproc_pending.setdefault(name, []).append(link)
            return None
        return binding

    def _inproc_cancel(self, name, link):
        pending = self._inproc_pending.get(name)
        if pending and link in pending:
            pending.remove(link)

    def _inproc_socket(self, name):
        """The open socket bound at inproc://name, or None."""
        binding = self._inproc.get(name)
        if binding is None or not binding.usable():
            return None
        return binding.socket


set_default_context(Context.instance)

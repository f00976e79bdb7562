"""Greenlets and native threads for the parts of gzmq that run code in the background (the
devices, the greenlet authenticator), so that only the engine names gevent's API."""
import signal

import gevent
from gevent.monkey import get_original
from gevent.socket import wait_read

spawn = gevent.spawn                 # -> a greenlet: join(), kill(), link(), dead
current = gevent.getcurrent

# A real OS thread even under gevent.monkey.patch_all() (a patched Thread is a greenlet).
start_native_thread = get_original("_thread", "start_new_thread")

# Signals the kernel raises for a fault belong to the thread that faulted: never blocked.
_FAULTS = {getattr(signal, name) for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT",
                                               "SIGTRAP", "SIGSYS") if hasattr(signal, name)}


def start_thread_without_signals(fn, args):
    """A native thread that never receives the program's signals (libzmq's threads block them
    all too). A signal sent to the process goes to any thread that does not block it; one
    that lands on gzmq's thread interrupts nothing there, and the main thread, asleep in its
    hub's poll, would not run the handler (Ctrl-C's KeyboardInterrupt) until something else
    woke it. The new thread inherits the mask in force while it is started."""
    if not hasattr(signal, "pthread_sigmask"):      # pragma: no cover - Windows
        return start_native_thread(fn, args)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - _FAULTS)
    try:
        return start_native_thread(fn, args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def wait_readable(fd):
    """Block this greenlet until fd is readable (a process sentinel, say)."""
    wait_read(fd)


def run_until_idle():
    """Turn this thread's hub until nothing is left for it to do (a device thread that must
    let its closed sockets finish flushing before it ends)."""
    gevent.get_hub().join()

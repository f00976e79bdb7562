"""Greenlets and native threads for the parts of gzmq that run code in the background (the
devices, the greenlet authenticator), so that only the engine names gevent's API."""
import gevent
from gevent.monkey import get_original
from gevent.socket import wait_read

spawn = gevent.spawn                 # -> a greenlet: join(), kill(), link(), dead
current = gevent.getcurrent

# A real OS thread even under gevent.monkey.patch_all() (a patched Thread is a greenlet).
start_native_thread = get_original("_thread", "start_new_thread")


def wait_readable(fd):
    """Block this greenlet until fd is readable (a process sentinel, say)."""
    wait_read(fd)


def run_until_idle():
    """Turn this thread's hub until nothing is left for it to do (a device thread that must
    let its closed sockets finish flushing before it ends)."""
    gevent.get_hub().join()

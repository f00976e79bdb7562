"""Fan-out (libzmq dist_t): one message to many pipes, for PUB and XPUB.

Which pipes get a message is the socket's business (its subscription trie); the
distributor writes to them. A pipe at SNDHWM misses the message (PUB drops for that one
subscriber), unless the socket asks first with check_all() and waits (XPUB_NODROP).
"""
from ..engine.pipe import write_each


class Distributor:
    __slots__ = ("pipes",)

    def __init__(self):
        self.pipes = {}   # every attached pipe, in attach order (a dict as an ordered set)

    def attach(self, pipe):
        self.pipes[pipe] = None

    def detach(self, pipe):
        self.pipes.pop(pipe, None)

    def __contains__(self, pipe):
        return pipe in self.pipes

    def send(self, pipes, msg):
        """Write msg to each of `pipes`; returns those that were full (None if none was)."""
        return write_each(pipes, msg)

    def check_all(self, pipes=None):
        """Room in every pipe (of `pipes`, default all)? A full one wakes the socket later."""
        for pipe in (self.pipes if pipes is None else pipes):
            if not pipe.check_write():
                return False
        return True

"""PUB, SUB, XPUB, XSUB (RFC 29 and libzmq): publish/subscribe with publisher-side filtering.

Subscribers tell publishers what they want (SUBSCRIBE/CANCEL commands to ZMTP 3.1 peers,
0x01/0x00-prefixed messages to 3.0 peers; both accepted from anyone), so a message nobody
asked for never crosses the wire. Subscription changes travel through the pipes in order
with the messages, as Subscribe/Cancel objects (a session turns them into commands or back,
an inproc peer reads them as they are): the subscriber writes them, the publisher reads
every pipe that has something as soon as it has something (libzmq's xpub read_activated),
whether or not the application ever calls recv(). The publisher keeps topic -> pipes in a
PipeTrie and encodes each message once for all matching peers. At SNDHWM a publisher drops the message
for that one subscriber (XPUB_NODROP: the send blocks / raises Again instead).

The subscriber counts its own subscriptions (two subscribes need two unsubscribes: only the
last one sends CANCEL), re-sends them to every new or reconnected publisher, and filters
received messages again locally (libzmq does too: a 3.0 or multicast publisher may send
more than asked for). XPUB hands subscription changes to the application as messages
(b"\\x01topic" / b"\\x00topic"); XSUB takes such messages from the application.
"""
from collections import deque

from ..constants import Errno, SocketOption, SocketType
from ..error import ZMQError
from ..routing.distribute import Distributor
from ..routing.fair_queue import FairQueue
from ..routing.trie import CountedTrie, PipeTrie
from ..zmtp.events import Cancel, Subscribe
from ..zmtp.frames import Encoded
from .base import SocketBase
from .direct import DirectRoutes

O = SocketOption

# Options read per message are module constants: an enum member looked up on its class
# costs about 0.1 us each time (CPython 3.11), more than the rest of the check.
INVERT_MATCHING = O.INVERT_MATCHING
XPUB_NODROP = O.XPUB_NODROP


class XPub(SocketBase):
    _type = SocketType.XPUB
    _peer_types = frozenset({"SUB", "XSUB"})

    def _init_routing(self):
        self._trie = PipeTrie()
        self._dist = Distributor()  # every attached subscriber
        self._pending = deque()     # (message, pipe): notices and upstream data, in order
        self._last = None           # the pipe the last received message came from
        self._manual_pipe = None    # XPUB_MANUAL: the pipe the last notice came from

    _upstream_allowed = True        # XPUB hands upstream messages to the application; PUB drops

    def _xattach(self, pipe):
        self._read_pipe(pipe)       # (an inproc subscriber may have written already)

    def _xsubscribe_all(self, pipe):
        self._trie.add(b"", pipe)   # a multicast pipe: no notice, the subscribers filter

    def _xready(self, pipe):
        self._dist.attach(pipe)
        welcome = self._options[O.XPUB_WELCOME_MSG]
        if welcome:
            pipe.write_control([welcome])
        return True

    def _xdetach(self, pipe):
        self._dist.detach(pipe)
        for topic in self._trie.remove_pipe(pipe):
            if not self._options[O.XPUB_MANUAL]:
                self._notify(b"\x00" + topic)
        if self._manual_pipe is pipe:
            self._manual_pipe = None

    def _xhiccup(self, pipe):
        # A reconnecting subscriber re-sends its subscriptions; start it from a clean slate.
        self._dist.detach(pipe)
        for topic in self._trie.remove_pipe(pipe):
            if not self._options[O.XPUB_MANUAL]:
                self._notify(b"\x00" + topic)

    def _xreadable(self, pipe):
        self._read_pipe(pipe)

    def _read_pipe(self, pipe):
        """Take everything a subscriber sent: subscription changes (objects from the pipe, or
        a 3.0 peer's 0x01/0x00 messages) and, for XPUB, upstream messages."""
        while True:
            msg = pipe.read()
            if msg is None:
                return              # (read() armed the pipe: its next message wakes us)
            kind = type(msg)
            if kind is Subscribe or kind is Cancel:
                self._subscription(pipe, msg.topic, kind is Subscribe)
                continue
            if len(msg) == 1:
                first = msg[0][:1]
                if first == b"\x01" or first == b"\x00":
                    self._subscription(pipe, bytes(msg[0][1:]), first == b"\x01")
                    continue
            if self._upstream_allowed:
                self._pending.append((msg, pipe))
                self._notify_in()

    def _notify(self, msg):
        if self._can_recv:
            self._pending.append(([msg], None))
            self._notify_in()

    def _subscription(self, pipe, topic, subscribe):
        opts = self._options
        if opts[O.XPUB_MANUAL]:
            self._manual_pipe = pipe
            self._notify((b"\x01" if subscribe else b"\x00") + topic)
            return
        if subscribe:
            fresh = self._trie.add(topic, pipe)
            if fresh or opts[O.XPUB_VERBOSE] or opts[O.XPUB_VERBOSER]:
                self._notify(b"\x01" + topic)
        else:
            gone = self._trie.remove(topic, pipe)
            if gone or opts[O.XPUB_VERBOSER]:
                self._notify(b"\x00" + topic)

    def _xsetsockopt(self, option, value):
        if option in (O.SUBSCRIBE, O.UNSUBSCRIBE):
            if not self._options[O.XPUB_MANUAL]:
                raise ZMQError(Errno.EINVAL, f"{option.name} on XPUB needs XPUB_MANUAL")
            pipe = self._manual_pipe
            if pipe is not None and pipe.alive:
                if option == O.SUBSCRIBE:
                    self._trie.add(value, pipe)
                else:
                    self._trie.remove(value, pipe)
            return True
        return False

    def _topics_count(self):
        return len(self._trie)          # TOPICS_COUNT: distinct subscribed prefixes (libzmq)

    def _matching(self, data):
        if type(data) is not bytes:
            data = bytes(data[:self._trie.max_length])   # a large frame: copy only its prefix
        matched = self._trie.match(data)
        if self._options[INVERT_MATCHING]:
            return [p for p in self._dist.pipes if p not in matched]
        return matched

    def _xsend(self, msg):
        pipes = self._matching(msg[0])
        if not pipes:
            self._dropped()
            return True
        if self._options[XPUB_NODROP] and not self._dist.check_all(pipes):
            return False
        if len(pipes) > 1:
            # Encode once for every subscriber (inproc peers just see a list of frames).
            msg = Encoded(msg)
        full = self._dist.send(pipes, msg)
        if full is not None:
            self._retry_full(full, msg)
        return True

    def _xhas_out(self):
        if not self._options[XPUB_NODROP]:
            return True
        return self._dist.check_all()

    def _xrecv(self):
        if self._pending:
            msg, self._last = self._pending.popleft()
            return msg
        return None

    def _last_pipe(self):
        return self._last

    def _xhas_in(self):
        return bool(self._pending)


class Pub(XPub):
    """PUB: XPUB that never receives and keeps subscriptions to itself."""

    _type = SocketType.PUB
    _can_recv = False
    _upstream_allowed = False

    def _xrecv(self):
        self._check_open()
        raise ZMQError(Errno.ENOTSUP, "PUB socket cannot recv")

    def _xhas_in(self):
        return False


class XSub(DirectRoutes, SocketBase):
    _type = SocketType.XSUB
    _peer_types = frozenset({"PUB", "XPUB"})

    def _init_routing(self):
        self._fq = FairQueue()
        self._subs = CountedTrie()
        self._out_pipes = []
        # libzmq xsub_t: a closing subscriber does not wait to send pending subscriptions.
        self._options[O.LINGER] = 0
        self._route()

    def _conflate_inbound(self):
        return bool(self._options[O.CONFLATE])

    def _xattach(self, pipe):
        self._fq.attach(pipe)
        self._out_pipes.append(pipe)
        self._send_all_subscriptions(pipe)
        self._route()

    def _xhiccup(self, pipe):
        # Reconnecting: the publisher starts from a clean slate (libzmq xsub_t::xhiccuped).
        self._send_all_subscriptions(pipe)

    def _send_all_subscriptions(self, pipe):
        for topic in self._subs.topics():
            pipe.write_control(Subscribe(topic))

    def _xdetach(self, pipe):
        self._fq.detach(pipe)
        try:
            self._out_pipes.remove(pipe)
        except ValueError:
            pass
        self._route()

    def _xreadable(self, pipe):
        self._fq.activate(pipe)
        self._route()

    def _send_subscription(self, pipe, topic, subscribe):
        # In order with the messages, never lost to SNDHWM; a pipe not connected yet keeps it.
        pipe.write_control(Subscribe(topic) if subscribe else Cancel(topic))

    def _subscribe(self, topic, subscribe):
        if subscribe:
            self._subs.add(topic)
        elif not self._subs.remove(topic):
            # Only the last unsubscribe of a topic reaches the publishers (libzmq xsub).
            if not self._options[O.XSUB_VERBOSE_UNSUBSCRIBE]:
                return
        for pipe in list(self._out_pipes):
            self._send_subscription(pipe, topic, subscribe)

    def _xsend(self, msg):
        # XSUB: b"\x01topic" subscribes, b"\x00topic" cancels, anything else goes upstream.
        data = msg[0]
        if len(msg) == 1 and data[:1] in (b"\x01", b"\x00"):
            self._subscribe(bytes(data[1:]), data[:1] == b"\x01")
            return True
        for pipe in self._out_pipes:
            pipe.write(msg)         # a full publisher misses it, as in libzmq
        return True

    def _xhas_out(self):
        return True

    # XSUB passes everything through (its _xrecv is a direct route, see DirectRoutes),
    # leaving filtering to the publishers upstream; SUB filters again (libzmq's options.filter).

    def _last_pipe(self):
        return self._fq.last

    def _xhas_in(self):
        return self._fq.has_in()


    def _topics_count(self):
        return len(self._subs)          # TOPICS_COUNT: distinct subscribed prefixes (libzmq)


class Sub(XSub):
    """SUB: subscribe with setsockopt(SUBSCRIBE) / subscribe(); receives only."""

    _type = SocketType.SUB
    _can_send = False
    _prefetched = None   # the matching message _xhas_in() found (libzmq's has_message)

    def _route(self):
        # Sub's _xrecv filters; what it takes messages from is routed as DirectRoutes would.
        fq = self._fq
        if len(fq.active) == 1:
            fq.last = fq.active[0]
            self._next = fq.last.read
        else:
            self._next = fq.recv

    def _xrecv(self):
        msg = self._prefetched
        if msg is not None:
            self._prefetched = None
            return msg
        take = self._next
        subs = self._subs
        invert = self._options[INVERT_MATCHING]
        while True:
            msg = take()
            if msg is None:
                return None
            data = msg[0]
            if type(data) is not bytes:
                data = bytes(data[:subs.max_length])   # a large frame: copy only its prefix
            if subs.match(data) != bool(invert):
                return msg

    def _xhas_in(self):
        if self._prefetched is not None:
            return True
        # libzmq xsub_t::xhas_in: drop messages no subscription matches (one may still be in
        # flight after an unsubscribe), so that POLLIN means recv() will not block.
        msg = self._xrecv()
        if msg is None:
            return False
        self._prefetched = msg
        return True

    def _xsetsockopt(self, option, value):
        if option == O.SUBSCRIBE:
            self._subscribe(value, True)
            return True
        if option == O.UNSUBSCRIBE:
            self._subscribe(value, False)
            return True
        return False

    def _xsend(self, msg):
        raise ZMQError(Errno.ENOTSUP, "SUB socket cannot send")

"""The receiving side of PGM (RFC 3208 receiver): per-source receive windows and NAK repair.

Pure: no sockets, no gevent, no clocks: every call takes `now` (seconds, any monotonic
origin). Feed each downstream datagram to receive() and get back the ZeroMQ messages it
completed (lists of frames, in each source's order); call poll(now) at next_wakeup() for NAK
timers; send what outgoing() returns (each NAK unicast to its source's NLA). Driven by
gzmq.transports.pgm. receive() raises PGMError for a malformed datagram (after ignoring it).

Per source (keyed by TSI) it keeps, like OpenPGM's rxw:
- a window `expected`..`lead`: the window is defined by the first SPM (from its lead) or the
  first data (from its sequence number), so a late joiner starts with current data and never
  asks for the past;
- for each missing sequence number a repair state, RFC 3208 5.3 with libzmq's timers:
  BACK_OFF (random 0..NAK_BO_IVL, 50 ms) -> NAK sent -> WAIT_NCF (NAK_RPT_IVL, 200 ms) ->
  NCF seen -> WAIT_DATA (NAK_RDATA_IVL, 200 ms); a timeout goes back to BACK_OFF, and after 50
  retries of either kind (libzmq's NAK_*_RETRIES) the packet is lost. An NCF for a packet
  still backing off suppresses our own NAK (another receiver asked already);
- data is delivered strictly in sequence. A lost packet (retries spent, behind the source's
  trailing edge, or pushed out of a full window) resets that source's ApduReader, which
  skips to the next message start: what is delivered is always whole messages, as libzmq.
NAKs for several packets of one source that fall due together go out as one NAK with
OPT_NAK_LIST (up to 63 sequence numbers), as OpenPGM sends them.
"""
import random
from collections import deque
from enum import Enum

from .framing import ApduReader
from .packets import MAX_NAK_LIST, Data, Nak, PGMError, Spm, encode_nak, parse

_MASK = 0xFFFFFFFF


def serial_diff(a, b):
    """a - b in 32-bit serial number arithmetic (RFC 1982): negative if a is before b."""
    return ((a - b + 0x80000000) & _MASK) - 0x80000000


class GapState(Enum):
    BACK_OFF = 1
    WAIT_NCF = 2
    WAIT_DATA = 3


class _Gap:
    __slots__ = ("state", "deadline", "ncf_retries", "data_retries")

    def __init__(self, deadline):
        self.state = GapState.BACK_OFF
        self.deadline = deadline
        self.ncf_retries = 0
        self.data_retries = 0


class Peer:
    """What a receiver knows about one source."""

    __slots__ = ("tsi", "nla", "reader", "expected", "lead", "held", "gaps", "lost", "spm_sqn",
                 "last_heard")

    def __init__(self, tsi, nla, maxmsgsize, now):
        self.tsi = tsi
        self.nla = nla
        self.reader = ApduReader(maxmsgsize)
        self.expected = None     # next sequence number to deliver; None: window not defined
        self.lead = None
        self.held = {}           # sqn -> APDU received ahead of `expected`
        self.gaps = {}           # sqn -> _Gap, missing packets being repaired
        self.lost = set()        # sqns given up on, not yet passed by `expected`
        self.spm_sqn = None
        self.last_heard = now


class Receiver:
    """Receives one PGM session (data-destination port `dport`, multicast `group`).

    window: most packets a source may be ahead of what was delivered (libzmq's RXW_SQNS);
    maxmsgsize: MAXMSGSIZE for the v1 decoder; the nak_* and peer_expiry arguments are
    libzmq's values in seconds; rng: a random.Random for NAK back-off (tests pass a seeded one).
    """

    def __init__(self, dport, group, window, maxmsgsize=-1, nak_bo_ivl=0.05, nak_rpt_ivl=0.2,
                 nak_rdata_ivl=0.2, nak_data_retries=50, nak_ncf_retries=50, peer_expiry=300.0,
                 rng=None):
        self.dport = dport
        self.group = group
        self.window = max(1, window)
        self.maxmsgsize = maxmsgsize
        self.nak_bo_ivl = nak_bo_ivl
        self.nak_rpt_ivl = nak_rpt_ivl
        self.nak_rdata_ivl = nak_rdata_ivl
        self.nak_data_retries = nak_data_retries
        self.nak_ncf_retries = nak_ncf_retries
        self.peer_expiry = peer_expiry
        self.rng = rng or random.Random()
        self.peers = {}
        self._out = deque()
        self.stats = {"odata": 0, "rdata": 0, "naks": 0, "ncfs": 0, "repaired": 0, "lost": 0,
                      "errors": 0}

    # -- input -------------------------------------------------------------------------------
    def receive(self, datagram, src, now):
        """One downstream datagram from IP address `src`. Returns completed messages."""
        pkt = parse(datagram)
        kind = type(pkt)
        if kind is Data:
            if pkt.dport != self.dport:
                return []
            return self._on_data(pkt, src, now)
        if kind is Spm:
            if pkt.dport != self.dport:
                return []
            return self._on_spm(pkt, src, now)
        if kind is Nak and pkt.ncf and pkt.dport == self.dport:
            self._on_ncf(pkt, now)
        return []

    def _peer(self, tsi, src, now):
        peer = self.peers.get(tsi)
        if peer is None:
            peer = self.peers[tsi] = Peer(tsi, src, self.maxmsgsize, now)
        peer.last_heard = now
        return peer

    def _on_data(self, pkt, src, now):
        self.stats["rdata" if pkt.repair else "odata"] += 1
        peer = self._peer(pkt.tsi, src, now)
        sqn = pkt.sqn
        if peer.expected is None:
            peer.expected = sqn
            peer.lead = (sqn - 1) & _MASK
        if serial_diff(sqn, peer.expected) < 0 or sqn in peer.held:
            return []  # a duplicate, or older than what was delivered
        out = []
        if serial_diff(sqn, peer.lead) > 0:
            out = self._extend(peer, sqn, now)
        elif sqn in peer.gaps and pkt.repair:
            self.stats["repaired"] += 1
        peer.gaps.pop(sqn, None)
        peer.lost.discard(sqn)
        # An OPT_FRAGMENT piece cannot be decoded on its own (libzmq never sends them): a loss.
        peer.held[sqn] = pkt.payload if pkt.fragment is None else None
        self._trail(peer, pkt.trail)
        return out + self._deliver(peer)

    def _on_spm(self, spm, src, now):
        peer = self._peer(spm.tsi, src, now)
        if peer.spm_sqn is not None and serial_diff(spm.sqn, peer.spm_sqn) <= 0:
            return []  # reordered or repeated
        peer.spm_sqn = spm.sqn
        if spm.nla not in ("0.0.0.0", "::"):
            peer.nla = spm.nla
        if peer.expected is None:
            peer.expected = (spm.lead + 1) & _MASK
            peer.lead = spm.lead
            return []
        out = []
        if serial_diff(spm.lead, peer.lead) > 0:
            # The source sent more than we saw: the tail was lost.
            out = self._extend(peer, spm.lead, now)
        self._trail(peer, spm.trail)
        return out + self._deliver(peer)

    def _on_ncf(self, ncf, now):
        peer = self.peers.get(ncf.tsi)
        if peer is None or peer.expected is None:
            return
        self.stats["ncfs"] += 1
        for sqn in ncf.sqns:
            if 0 < serial_diff(sqn, peer.lead) and serial_diff(sqn, peer.expected) < self.window:
                self._extend(peer, sqn, now)  # within the window: releases nothing
            gap = peer.gaps.get(sqn)
            if gap is not None and gap.state is not GapState.WAIT_DATA:
                gap.state = GapState.WAIT_DATA
                gap.deadline = now + self.nak_rdata_ivl

    # -- window ------------------------------------------------------------------------------
    def _extend(self, peer, new_lead, now):
        """Move the leading edge to new_lead; everything new before it is missing (BACK_OFF).
        Returns messages released if the window had to give up its oldest packets."""
        out = []
        floor = (new_lead - self.window + 1) & _MASK
        if serial_diff(floor, peer.expected) > 0:
            # The window cannot reach back to `expected`: what is missing before floor is lost.
            self._trail(peer, floor)
            out = self._deliver(peer)
            if serial_diff(floor, peer.expected) > 0:
                # Packets after the old lead that were never even seen: lost as one block.
                self.stats["lost"] += serial_diff(floor, peer.expected)
                peer.reader.reset()
                peer.expected = floor
                peer.lead = (floor - 1) & _MASK
        uniform = self.rng.uniform
        bo = self.nak_bo_ivl
        gaps = peer.gaps
        held = peer.held
        sqn = (peer.lead + 1) & _MASK
        end = (new_lead + 1) & _MASK
        while sqn != end:
            if sqn not in held:
                gaps[sqn] = _Gap(now + uniform(0, bo))
            sqn = (sqn + 1) & _MASK
        peer.lead = new_lead
        return out

    def _trail(self, peer, trail):
        """The source can no longer repair anything before `trail`: give those up."""
        if serial_diff(trail, peer.expected) <= 0:
            return
        end = trail if serial_diff(trail, peer.lead) <= 0 else (peer.lead + 1) & _MASK
        sqn = peer.expected
        while serial_diff(sqn, end) < 0:
            if sqn not in peer.held and peer.gaps.pop(sqn, None) is not None:
                peer.lost.add(sqn)
            sqn = (sqn + 1) & _MASK

    def _lose(self, peer, sqn):
        del peer.gaps[sqn]
        peer.lost.add(sqn)

    def _deliver(self, peer):
        out = []
        held = peer.held
        lost = peer.lost
        reader = peer.reader
        sqn = peer.expected
        while True:
            if sqn in held:
                apdu = held.pop(sqn)
                if apdu is None:
                    reader.reset()
                else:
                    try:
                        out += reader.feed(apdu)
                    except PGMError as exc:
                        out += exc.messages
                        self.stats["errors"] += 1
            elif sqn in lost:
                lost.discard(sqn)
                reader.reset()
                self.stats["lost"] += 1
            else:
                break
            sqn = (sqn + 1) & _MASK
        peer.expected = sqn
        return out

    # -- timers ------------------------------------------------------------------------------
    def poll(self, now):
        """Run NAK timers and peer expiry; returns messages released by giving up on losses."""
        out = []
        for tsi, peer in list(self.peers.items()):
            if now - peer.last_heard > self.peer_expiry:
                del self.peers[tsi]
                continue
            if not peer.gaps:
                continue
            naks = []
            gave_up = False
            for sqn, gap in list(peer.gaps.items()):
                if gap.deadline > now:
                    continue
                state = gap.state
                if state is GapState.BACK_OFF:
                    naks.append(sqn)
                    gap.state = GapState.WAIT_NCF
                    gap.deadline = now + self.nak_rpt_ivl
                    continue
                if state is GapState.WAIT_NCF:
                    gap.ncf_retries += 1
                    spent = gap.ncf_retries > self.nak_ncf_retries
                else:
                    gap.data_retries += 1
                    spent = gap.data_retries > self.nak_data_retries
                if spent:
                    self._lose(peer, sqn)
                    gave_up = True
                else:
                    gap.state = GapState.BACK_OFF
                    gap.deadline = now + self.rng.uniform(0, self.nak_bo_ivl)
            if naks:
                self._queue_naks(peer, naks)
            if gave_up:
                out += self._deliver(peer)
        return out

    def _queue_naks(self, peer, sqns):
        base = peer.expected
        sqns.sort(key=lambda s: (s - base) & _MASK)
        step = MAX_NAK_LIST + 1
        for i in range(0, len(sqns), step):
            chunk = sqns[i:i + step]
            self._out.append((encode_nak(peer.tsi, self.dport, chunk, peer.nla, self.group), peer.nla))
            self.stats["naks"] += len(chunk)

    def outgoing(self):
        """NAKs to send: a list of (datagram, source NLA), each unicast to that address."""
        out = list(self._out)
        self._out.clear()
        return out

    def next_wakeup(self):
        """The earliest NAK timer or peer expiry (absolute time), or None."""
        best = None
        for peer in self.peers.values():
            t = peer.last_heard + self.peer_expiry
            if best is None or t < best:
                best = t
            for gap in peer.gaps.values():
                if gap.deadline < best:
                    best = gap.deadline
        return best

"""The sending side of a PGM session (RFC 3208 source), as a state machine.

Pure: no sockets, no gevent, no clocks: every call takes `now` (seconds, any monotonic
origin) and returns packets (bytes); the caller sends them all to the multicast group. Driven
by gzmq.transports.pgm.

What it does, with OpenPGM's behaviour as configured by libzmq (pgm_socket.cpp):
- Transmit window: the last `window_sqns` APDUs stay available for repair. libzmq sizes it
  as RATE x RECOVERY_IVL / MULTICAST_MAXTPDU packets; the trailing edge advances as it fills.
- Rate: a token bucket of `rate` bytes/s (libzmq RATE is kbit/s) shared by ODATA and RDATA,
  counting IP/UDP header bytes as OpenPGM does. Repairs go before new data.
- SPMs: three at start (as OpenPGM), then heartbeats after data at 100 ms, 100, 100, 100,
  1.3 s, 7 s, 16 s, 25 s, 30 s (libzmq's PGM_HEARTBEAT_SPM), then ambient every 30 s. They
  carry the window edges (so receivers notice lost tail packets) and our NLA (where NAKs go).
  An SPMR gets an SPM at once. close() returns the OPT_FIN SPMs that end the session.
- NAKs: each answers with one NCF echoing the NAK's list, and queues RDATA for every listed
  sequence number still in the window (a number already queued is not queued twice); numbers
  outside the window are ignored, so the receiver eventually reports the loss.
"""
from collections import deque

from .packets import (DATA_HEADER_SIZE, Nak, PGMError, Spmr, encode_data, encode_nak, encode_spm,
                      parse)

HEARTBEAT_SPM = (0.1, 0.1, 0.1, 0.1, 1.3, 7.0, 16.0, 25.0, 30.0)
AMBIENT_SPM = 30.0
_MASK = 0xFFFFFFFF


def window_sqns(rate_kbps, recovery_ivl_ms, max_tpdu):
    """libzmq's compute_sqns(): how many packets RATE x RECOVERY_IVL holds (at least 1)."""
    return max(1, (rate_kbps // 8) * recovery_ivl_ms // max_tpdu)


class RateLimiter:
    """Token bucket: `rate` bytes per second, bursts up to `burst` bytes."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate, burst, now):
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def _refill(self, now):
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def delay(self, size, now):
        """Seconds until `size` bytes may go; 0.0 means now (and the bytes are spent)."""
        self._refill(now)
        if self.tokens >= size or self.tokens >= self.burst:
            self.tokens -= size
            return 0.0
        return (min(size, self.burst) - self.tokens) / self.rate

    def spend(self, size, now):
        """Count bytes that went out regardless of the rate (control packets)."""
        self._refill(now)
        self.tokens -= size


class Source:
    """One PGM source: our TSI sending to session port `dport`.

    tsi: our Tsi; nla: our address as receivers should NAK it; group: the multicast group;
    rate: bytes per second; window: packets kept for repair; overhead: bytes of IP/UDP header
    per packet, for the rate.
    """

    def __init__(self, tsi, dport, nla, group, rate, window, now, overhead=28, max_tpdu=1500):
        self.tsi = tsi
        self.dport = dport
        self.nla = nla
        self.group = group
        self.overhead = overhead
        self.window_size = max(1, window)
        self.limiter = RateLimiter(rate, max(2 * max_tpdu, rate / 50), now)
        self.lead = _MASK            # nothing sent yet: lead is trail - 1
        self.trail = 0
        self._window = deque()       # APDUs trail..lead
        self._spm_sqn = 0
        self._control = deque()      # packets due now, not rate limited (SPM, NCF)
        self._repairs = deque()      # sequence numbers to retransmit, in NAK order
        self._queued = set()
        self._heartbeat = 0          # index into HEARTBEAT_SPM; len() when idle
        self._next_spm = now + AMBIENT_SPM
        self.last_data = None        # when the last ODATA or RDATA went out
        self.stats = {"odata": 0, "rdata": 0, "naks": 0, "ncfs": 0, "spms": 0}
        for _ in range(3):
            self._queue_spm()

    # -- sending data ------------------------------------------------------------------------
    def data_delay(self, apdu_size, now):
        """Seconds until an APDU of this size may be sent as ODATA (0.0: now, tokens spent).
        Pending repairs go first: while any wait, new data waits too."""
        if self._repairs:
            return self._repair_delay(now)
        return self.limiter.delay(apdu_size + DATA_HEADER_SIZE + self.overhead, now)

    def odata(self, apdu, now):
        """Assign the next sequence number to `apdu`, keep it for repairs, return the ODATA.
        Call only after data_delay() returned 0.0."""
        self.lead = (self.lead + 1) & _MASK
        self._window.append(apdu)
        if len(self._window) > self.window_size:
            self._window.popleft()
            self.trail = (self.trail + 1) & _MASK
        self.stats["odata"] += 1
        self.last_data = now
        # Heartbeat SPMs follow data, so a receiver that lost the last packets hears of them.
        # A heartbeat already due sooner is not pushed back by more data.
        self._heartbeat = 1
        self._next_spm = min(self._next_spm, now + HEARTBEAT_SPM[0])
        return encode_data(self.tsi, self.dport, self.lead, self.trail, apdu)

    # -- control, repairs, timers ----------------------------------------------------------------
    def receive(self, datagram, now):
        """An upstream datagram (NAK or SPMR) addressed to us. Raises PGMError if malformed;
        anything not for this source is ignored."""
        pkt = parse(datagram)
        if type(pkt) is Nak:
            if pkt.ncf or pkt.tsi != self.tsi or pkt.dport != self.dport:
                return
            self._on_nak(pkt)
        elif type(pkt) is Spmr:
            if pkt.tsi == self.tsi and pkt.dport == self.dport:
                self._queue_spm()

    def _on_nak(self, nak):
        self.stats["naks"] += 1
        lead_offset = (self.lead - self.trail + 1) & _MASK if self._window else 0
        wanted = [s for s in nak.sqns if ((s - self.trail) & _MASK) < lead_offset]
        if not wanted:
            return
        self.stats["ncfs"] += 1
        self._control.append(encode_nak(self.tsi, self.dport, nak.sqns, nak.source_nla,
                                        nak.group_nla, ncf=True))
        for sqn in wanted:
            if sqn not in self._queued:
                self._queued.add(sqn)
                self._repairs.append(sqn)

    def _repair_delay(self, now):
        sqn = self._repairs[0]
        apdu = self._apdu(sqn)
        if apdu is None:
            return 0.0
        return self.limiter.delay(len(apdu) + DATA_HEADER_SIZE + self.overhead, now)

    def _apdu(self, sqn):
        index = (sqn - self.trail) & _MASK
        return self._window[index] if index < len(self._window) else None

    def _queue_spm(self, fin=False):
        self._control.append(encode_spm(self.tsi, self.dport, self._spm_sqn, self.trail,
                                        self.lead, self.nla, fin))
        self._spm_sqn = (self._spm_sqn + 1) & _MASK
        self.stats["spms"] += 1

    def poll(self, now):
        """Packets due at `now`: SPMs and NCFs, then repairs as far as the rate allows."""
        if now >= self._next_spm:
            self._queue_spm()
            if self._heartbeat and self._heartbeat < len(HEARTBEAT_SPM):
                self._next_spm = now + HEARTBEAT_SPM[self._heartbeat]
                self._heartbeat += 1
            else:
                self._heartbeat = 0
                self._next_spm = now + AMBIENT_SPM
        out = []
        control = self._control
        while control:
            pkt = control.popleft()
            self.limiter.spend(len(pkt) + self.overhead, now)
            out.append(pkt)
        repairs = self._repairs
        while repairs:
            sqn = repairs[0]
            apdu = self._apdu(sqn)
            if apdu is not None and self.limiter.delay(len(apdu) + DATA_HEADER_SIZE + self.overhead, now):
                break
            repairs.popleft()
            self._queued.discard(sqn)
            if apdu is not None:  # fell out of the window while queued: nothing to send
                self.stats["rdata"] += 1
                self.last_data = now
                out.append(encode_data(self.tsi, self.dport, sqn, self.trail, apdu, repair=True))
        return out

    def next_wakeup(self, now):
        """When poll() next has something to do (absolute time)."""
        if self._control:
            return now
        if self._repairs:
            return now + self._repair_delay_peek(now)
        return self._next_spm

    def _repair_delay_peek(self, now):
        apdu = self._apdu(self._repairs[0])
        if apdu is None:
            return 0.0
        lim = self.limiter
        lim._refill(now)
        size = min(len(apdu) + DATA_HEADER_SIZE + self.overhead, lim.burst)
        return max(0.0, (size - lim.tokens) / lim.rate)

    def settled(self, now, grace):
        """True when nothing is queued and no data went out for `grace` seconds: receivers
        that lost the tail have had the heartbeat SPMs that tell them, and time to NAK."""
        if self._control or self._repairs:
            return False
        return self.last_data is None or now - self.last_data >= grace

    def close(self):
        """The OPT_FIN SPMs that tell receivers the session is over (OpenPGM sends three)."""
        for _ in range(3):
            self._queue_spm(fin=True)
        out = list(self._control)
        self._control.clear()
        return out


__all__ = ["Source", "RateLimiter", "window_sqns", "PGMError"]

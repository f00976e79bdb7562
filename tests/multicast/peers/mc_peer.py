"""A multicast peer for the tests, run in another network namespace as a subprocess.

    mc_peer.py zmq|gzmq sub ENDPOINT COUNT [RATE]   print "ready", then "joined" on the first
                                                    warm-up message, then one JSON line
    mc_peer.py zmq|gzmq pub ENDPOINT COUNT [RATE]   print "ready"; send warm-ups every 50 ms
                                                    until stdin says "go"; send COUNT messages;
                                                    print "sent"; exit on "quit"

`zmq` is Debian's python3-zmq (libzmq with OpenPGM: run it with /usr/bin/python3); `gzmq` is
this project, imported as `import gzmq as zmq`, so both run the same pyzmq code. Messages are
make_message(i): deterministic contents (the receiver checks every byte), sizes from empty to
about 20 kB, some multipart, some spanning many APDUs.
"""
import json
import random
import sys

WARMUP = b"W"


def make_message(i):
    """Message number i: b'D' + 6 digits + random bytes; every 50th has a second frame; every
    997th a 20 kB frame (a long v1 frame spanning ~15 APDUs)."""
    rnd = random.Random(i)
    frames = [b"D%06d" % i + rnd.randbytes(rnd.randrange(0, 400))]
    if i % 50 == 0:
        frames.append(rnd.randbytes(rnd.randrange(0, 3000)))
    if i % 997 == 0:
        frames.append(rnd.randbytes(20000))
    return frames


class Checker:
    """Counts data messages: all present, each exactly as sent, in order."""

    def __init__(self, count):
        self.count = count
        self.next = None
        self.received = 0
        self.bad = []
        self.first = None

    def add(self, frames):
        i = int(frames[0][1:7])
        if self.next is None:
            self.first = i
        elif i != self.next:
            self.bad.append(f"expected message {self.next}, got {i}")
        self.next = i + 1
        if frames != make_message(i):
            self.bad.append(f"message {i}: contents differ")
        self.received += 1
        return self.received >= self.count

    def report(self):
        return {"received": self.received, "first": self.first, "bad": self.bad[:10]}


def main(argv):
    lib, role, endpoint, count = argv[1], argv[2], argv[3], int(argv[4])
    rate = int(argv[5]) if len(argv) > 5 else 40000
    if lib == "gzmq":
        import gevent.select as select_mod
        import gzmq as zmq
    else:
        import select as select_mod
        import zmq
    ctx = zmq.Context()
    if role == "sub":
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.RATE, rate)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.setsockopt(zmq.RCVTIMEO, 30000)
        sock.connect(endpoint)
        print("ready", flush=True)
        checker = Checker(count)
        joined = False
        try:
            while True:
                frames = sock.recv_multipart()
                if frames[0][:1] == WARMUP:
                    if not joined:
                        print("joined", flush=True)
                        joined = True
                    continue
                if checker.add(frames):
                    break
        except zmq.Again:
            pass
        print(json.dumps(checker.report()), flush=True)
        sock.close(0)
    else:
        sock = ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.RATE, rate)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.connect(endpoint)
        print("ready", flush=True)
        while not select_mod.select([sys.stdin], [], [], 0.05)[0]:
            sock.send(WARMUP)
        assert sys.stdin.readline().strip() == "go"
        for i in range(count):
            sock.send_multipart(make_message(i))
        print("sent", flush=True)
        # Stay up (answering NAKs) until told to quit; select() lets gzmq's greenlets run.
        while True:
            if select_mod.select([sys.stdin], [], [], 0.1)[0]:
                if sys.stdin.readline().strip() in ("quit", ""):
                    break
        sock.close(0)
    ctx.term()


if __name__ == "__main__":
    main(sys.argv)

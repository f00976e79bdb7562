"""ROUTER routing ids (libzmq router_t::identify_peer).

A peer that announced a non-empty Identity is known by it; otherwise it gets libzmq's
auto id: 0x00 followed by a 4-byte big-endian counter that starts at a random value.
"""
import random


class RoutingIds:
    __slots__ = ("by_id", "_next")

    def __init__(self):
        self.by_id = {}
        self._next = random.getrandbits(32)

    def auto_id(self):
        while True:
            rid = b"\x00" + self._next.to_bytes(4, "big")
            self._next = (self._next + 1) & 0xFFFFFFFF
            if rid not in self.by_id:
                return rid

    def add(self, rid, pipe):
        self.by_id[rid] = pipe

    def remove(self, pipe):
        rid = pipe.routing_id
        if rid is not None and self.by_id.get(rid) is pipe:
            del self.by_id[rid]

    def get(self, rid):
        return self.by_id.get(rid)

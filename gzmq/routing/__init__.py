"""Routing strategies, pure Python with no I/O (libzmq's lb, fq, dist, mtrie split).

load_balance  round-robin over peers with room (PUSH, DEALER, REQ)
fair_queue    round-robin over peers with messages (PULL, DEALER, ROUTER, REP, SUB ...)
identity      ROUTER routing ids (peer Identity, or libzmq's auto 5-byte ids)
trie          counted prefix subscriptions (PUB/XPUB)
"""

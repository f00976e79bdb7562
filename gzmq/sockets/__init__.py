"""Socket types: one small module per pattern, each mostly wiring of gzmq.routing strategies.

SOCKET_CLASSES maps a SocketType to its implementation class (a SocketBase subclass).
"""
from ..constants import SocketType
from .pair import Pair
from .pipeline import Pull, Push
from .reqrep import Dealer, Rep, Req, Router
from .pubsub import Pub, Sub, XPub, XSub
from .stream import Stream

SOCKET_CLASSES = {
    SocketType.PAIR: Pair,
    SocketType.PUSH: Push,
    SocketType.PULL: Pull,
    SocketType.REQ: Req,
    SocketType.REP: Rep,
    SocketType.DEALER: Dealer,
    SocketType.ROUTER: Router,
    SocketType.PUB: Pub,
    SocketType.SUB: Sub,
    SocketType.XPUB: XPub,
    SocketType.XSUB: XSub,
    SocketType.STREAM: Stream,
}

"""Socket types: one small module per pattern, each mostly wiring of gzmq.routing strategies.

SOCKET_CLASSES maps a SocketType to its implementation class (a SocketBase subclass).
"""
from ..constants import SocketType
from .pair import Pair
from .pipeline import Pull, Push
from .reqrep import Dealer, Rep, Req, Router
from .pubsub import Pub, Sub, XPub, XSub
from .stream import Stream
from .clientserver import Channel, Client, Peer, Server
from .dgram import Dgram
from .radiodish import Dish, Radio
from .scattergather import Gather, Scatter

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
    # libzmq's draft types (zmq.has('draft')): gzmq.sockets.single holds their shared rules.
    SocketType.SERVER: Server,
    SocketType.CLIENT: Client,
    SocketType.RADIO: Radio,
    SocketType.DISH: Dish,
    SocketType.GATHER: Gather,
    SocketType.SCATTER: Scatter,
    SocketType.DGRAM: Dgram,
    SocketType.PEER: Peer,
    SocketType.CHANNEL: Channel,
}

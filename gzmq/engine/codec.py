"""A session's sans-IO ZMTP connection, built from its socket's options, and the per-hub
buffer recycler large received frames use."""
import weakref

import gevent

from ..constants import SecurityMechanism, SocketOption
from ..security import make_mechanism
from ..zmtp.connection import ZMTPConnection
from ..zmtp.mechanisms import NullMechanism
from ..zmtp.recycle import BodyRecycler

ZAP_DOMAIN = SocketOption.ZAP_DOMAIN

_recyclers: "weakref.WeakKeyDictionary[object, object]" = weakref.WeakKeyDictionary()


def body_recycler():
    """This thread's BodyRecycler (one per gevent hub: a recycler is never shared by threads)."""
    hub = gevent.get_hub()
    recycler = _recyclers.get(hub)
    if recycler is None:
        recycler = _recyclers[hub] = BodyRecycler()
    return recycler


def make_connection(options):
    """The sans-IO ZMTP connection for a new session, from its socket's options."""
    if options.mechanism == SecurityMechanism.NULL:
        mechanism = NullMechanism(zap=bool(options.values[ZAP_DOMAIN]))
    else:
        mechanism = make_mechanism(options)
    return ZMTPConnection(options.type_name, peer_types=options.peer_types,
                          identity=options.routing_id, mechanism=mechanism,
                          maxmsgsize=options.maxmsgsize, properties=options.metadata,
                          recycler=body_recycler())

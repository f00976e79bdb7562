"""PUB/SUB fan-out: one publisher, 1, 8 or 32 subscribers, each in its own process, over tcp.

The publisher cycles through TOPICS topic-prefixed messages of 16 B or 1 KiB ("t0......", ...).
Without filtering every subscriber subscribes to everything; with filtering subscriber i
subscribes to topic i % TOPICS only, so with 8 subscribers each message goes to exactly one of
them and with 1 subscriber 1 message in 8 matches. The publisher's work is identical either way.

Start-up ("slow joiner"): subscriptions reach a publisher asynchronously, so the publisher sends
PROBE messages until every subscriber has received one and said "ready"; only then is it told to
go. PUB drops messages for a subscriber whose queue is full (the default HWM of 1000 applies), so
the figure is what was actually delivered: messages received by all subscribers together, over
the span from the earliest first arrival to the latest arrival of END (the clocks are
system-wide). After the stream the publisher repeats END until told to stop, as END too can be
dropped.

"slow": one of the subscribers stops for a millisecond after every SLOW_EVERY messages. A
publisher must drop that subscriber's messages at its HWM and keep serving the others at full
speed (the figure still counts every delivery; delivered_fraction shows what the slow one lost).
"""
from benchmarks.registry import Metric, Scenario, register
from benchmarks.scenarios.zmq_base import ZMQ, bind
from benchmarks.units import size_label

SIZES = (16, 1024)
TOPICS = 8
SLOW_EVERY = 64
PROBE = b"~probe"       # control messages start with "~" and are never SIZE bytes long
END = b"~end"
MARKERS = b"~"


def topic_message(topic, size):
    prefix = b"t%d" % topic
    return prefix + b"." * (size - len(prefix))


# -- worker side: the measured code --

def publisher(env, spec, duration, size):
    zmq = env.lib
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    env.ready(endpoint=bind(zmq, pub, spec))
    while env.poll() is None:                   # until told "go"
        pub.send(PROBE)
        env.sleep(0.005)
    batch = [topic_message(topic, size) for topic in range(TOPICS)] * 16
    sent = 0
    started = env.clock()
    deadline = started + duration
    while env.clock() < deadline:
        for message in batch:
            pub.send(message)
        sent += len(batch)
    seconds = env.clock() - started
    while env.poll() is None:                   # until told "stop"
        pub.send(END)
        env.sleep(0.005)
    pub.close(linger=0)
    context.term()
    return {"sent": sent, "seconds": seconds}


def subscriber(env, endpoint, topic, size, slow=False):
    zmq = env.lib
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.connect(endpoint)
    if topic is None:
        sub.setsockopt(zmq.SUBSCRIBE, b"")
    else:
        sub.setsockopt(zmq.SUBSCRIBE, b"t%d" % topic)
        sub.setsockopt(zmq.SUBSCRIBE, MARKERS)
    while sub.recv() != PROBE:
        pass
    env.ready()
    message = sub.recv()
    while message == PROBE:                     # probes stop when the publisher starts
        message = sub.recv()
    started = env.clock()
    received = 0
    while len(message) == size:
        received += 1
        if slow and not received % SLOW_EVERY:
            env.sleep(0.001)
        message = sub.recv()
    finished = env.clock()
    sub.close(linger=0)
    context.term()
    return {"received": received, "started": started, "finished": finished}


# -- orchestrator side --

def fan_out(subscribers, filtered, size, slow=False):
    def run(trial):
        pub = trial.start(publisher, spec=trial.bind_spec("tcp"), duration=trial.duration,
                          size=size)
        endpoint = pub.expect("ready")["endpoint"]
        subs = [trial.start(subscriber, endpoint=endpoint, topic=i % TOPICS if filtered else None,
                            size=size, slow=slow and i == 0)
                for i in range(subscribers)]
        for sub in subs:
            sub.expect("ready")
        pub.tell(go=True)
        results = [sub.result() for sub in subs]
        pub.tell(stop=True)
        published = pub.result()
        sent = published["sent"]
        received = sum(result["received"] for result in results)
        span = max(r["finished"] for r in results) - min(r["started"] for r in results)
        matching = sent * subscribers / (TOPICS if filtered else 1)
        return {"delivered_per_s": received / span, "delivered_fraction": received / matching,
                "published_per_s": sent / published["seconds"]}
    return run


METRICS = (Metric("delivered_per_s", "msg/s"),
           Metric("delivered_fraction", "fraction of matching", headline=False),
           Metric("published_per_s", "msg/s published", headline=False))
GROUP = "PUB/SUB fan-out over tcp, one process per peer (messages delivered, all subscribers)"


def shape(subscribers, filtered, size, slow=False):
    name = (f"pubsub tcp {subscribers}sub {'filtered' if filtered else 'all'}"
            f"{'' if size == 16 else ' ' + size_label(size)}{' slow' if slow else ''}")
    register(Scenario(
        name=name, group=GROUP, family=ZMQ, run=fan_out(subscribers, filtered, size, slow),
        metrics=METRICS,
        details={"transport": "tcp", "size": size, "subscribers": subscribers,
                 "topics": TOPICS, "filtered": filtered, "slow_subscriber": slow}))


# (Names of the 16 B rows as before, so earlier results still compare.)
for size in SIZES:
    for subscribers in (1, 8):
        for filtered in (False, True):
            shape(subscribers, filtered, size)
    shape(32, False, size)
shape(8, False, 16, slow=True)

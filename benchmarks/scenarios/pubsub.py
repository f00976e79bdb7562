"""PUB/SUB fan-out: one publisher, 1 or 8 subscribers, each in its own process, over tcp.

The publisher cycles through TOPICS topic-prefixed 16-byte messages ("t0......", "t1......", ...).
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
"""
from benchmarks.registry import Metric, Scenario, register
from benchmarks.scenarios.zmq_base import ZMQ, bind

SIZE = 16
TOPICS = 8
PROBE = b"~probe"       # control messages start with "~" and are never SIZE bytes long
END = b"~end"
MARKERS = b"~"


def topic_message(topic):
    prefix = b"t%d" % topic
    return prefix + b"." * (SIZE - len(prefix))


# -- worker side: the measured code --

def publisher(env, spec, duration):
    zmq = env.lib
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    env.ready(endpoint=bind(zmq, pub, spec))
    while env.poll() is None:                   # until told "go"
        pub.send(PROBE)
        env.sleep(0.005)
    batch = [topic_message(topic) for topic in range(TOPICS)] * 16
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


def subscriber(env, endpoint, topic):
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
    while len(message) == SIZE:
        received += 1
        message = sub.recv()
    finished = env.clock()
    sub.close(linger=0)
    context.term()
    return {"received": received, "started": started, "finished": finished}


# -- orchestrator side --

def fan_out(subscribers, filtered):
    def run(trial):
        pub = trial.start(publisher, spec=trial.bind_spec("tcp"), duration=trial.duration)
        endpoint = pub.expect("ready")["endpoint"]
        subs = [trial.start(subscriber, endpoint=endpoint, topic=i % TOPICS if filtered else None)
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


for subscribers in (1, 8):
    for filtered in (False, True):
        register(Scenario(
            name=f"pubsub tcp {subscribers}sub {'filtered' if filtered else 'all'}",
            group="PUB/SUB fan-out, 16B over tcp, one process per peer (messages delivered, all subscribers)",
            family=ZMQ, run=fan_out(subscribers, filtered),
            metrics=(Metric("delivered_per_s", "msg/s"),
                     Metric("delivered_fraction", "fraction of matching", headline=False),
                     Metric("published_per_s", "msg/s published", headline=False)),
            details={"transport": "tcp", "size": SIZE, "subscribers": subscribers,
                     "topics": TOPICS, "filtered": filtered}))

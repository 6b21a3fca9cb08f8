#!/bin/sh
# Runs inside the lab VM (Debian 6.1 kernel): proves the kernel features the host kernel lacks carry
# traffic between two namespaces — GRE, kernel ESP with AES-GCM (through an xfrm interface when the
# kernel has xfrm_interface), and netem delay. Prints one "LAB-CHECK <name> ok|fail <detail>" line per
# check (read by images/lab/vm/scenario-checks.ts) and exits non-zero if any failed.
failed=0
check() { # name, status, detail
  read up _ </proc/uptime
  echo "LAB-CHECK $1 $2 $3 (guest uptime ${up}s)"
  [ "$2" = ok ] || failed=1
}
pair() { # ns-a, ns-b, address-a, address-b: two namespaces joined by veth0 <-> veth0
  ip netns add "$1" && ip netns add "$2" &&
    ip -n "$1" link add veth0 type veth peer name veth0 netns "$2" &&
    ip -n "$1" addr add "$3/24" dev veth0 && ip -n "$2" addr add "$4/24" dev veth0 &&
    ip -n "$1" link set veth0 up && ip -n "$2" link set veth0 up &&
    ip -n "$1" link set lo up && ip -n "$2" link set lo up
}
min_rtt() { # ping output on stdin -> minimum RTT in ms
  sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/.*|\1|p'
}
all_answered() { # count, ping output file: ping exits 0 on the first reply, so count them
  [ "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$2")" = "$1" ]
}

# GRE (ip_gre): an IPv4-in-GRE tunnel between the two ends of a veth pair.
if pair gre-a gre-b 10.99.1.1 10.99.1.2 &&
  ip -n gre-a link add gre1 type gre local 10.99.1.1 remote 10.99.1.2 ttl 64 &&
  ip -n gre-b link add gre1 type gre local 10.99.1.2 remote 10.99.1.1 ttl 64 &&
  ip -n gre-a addr add 10.98.1.1/30 dev gre1 && ip -n gre-b addr add 10.98.1.2/30 dev gre1 &&
  ip -n gre-a link set gre1 up && ip -n gre-b link set gre1 up &&
  ip netns exec gre-a ping -c 3 -i 0.2 -W 2 10.98.1.2 >/tmp/gre.ping && all_answered 3 /tmp/gre.ping; then
  rx=$(ip -n gre-b -s link show gre1 | awk '/RX:/ { getline; print $2; exit }')
  check gre ok "3/3 pings through gre1, peer gre1 rx_packets=$rx"
else
  check gre fail "$(tail -n 3 /tmp/gre.ping 2>/dev/null | tr '\n' ' ')"
fi

# Kernel ESP (esp4, xfrm_user): tunnel-mode SAs with rfc4106(gcm(aes)), 128-bit ICV. The key is a fixed
# test vector: 16 bytes of AES key + 4 bytes of salt (RFC 4106 section 8.1).
KEY=0x0102030405060708090a0b0c0d0e0f1011121314
sa() { # ns, src, dst, spi, extra
  ip -n "$1" xfrm state add src "$2" dst "$3" proto esp spi "$4" reqid 1 mode tunnel \
    aead 'rfc4106(gcm(aes))' $KEY 128 $5
}
esp_setup() {
  pair esp-a esp-b 10.99.2.1 10.99.2.2 || return 1
  for ns in esp-a esp-b; do
    sa $ns 10.99.2.1 10.99.2.2 0x101 "$IFID" && sa $ns 10.99.2.2 10.99.2.1 0x102 "$IFID" || return 1
  done
  if [ -n "$IFID" ]; then
    # Route-based: policies match only packets routed through the xfrm interface with this if_id.
    for side in "esp-a 10.99.2.1 10.99.2.2 10.98.2.1" "esp-b 10.99.2.2 10.99.2.1 10.98.2.2"; do
      set -- $side
      ip -n $1 link add xfrm42 type xfrm dev veth0 if_id 42 && ip -n $1 addr add $4/30 dev xfrm42 &&
        ip -n $1 link set xfrm42 up &&
        ip -n $1 xfrm policy add dir out src 0.0.0.0/0 dst 0.0.0.0/0 $IFID tmpl src $2 dst $3 proto esp reqid 1 mode tunnel &&
        ip -n $1 xfrm policy add dir in src 0.0.0.0/0 dst 0.0.0.0/0 $IFID tmpl src $3 dst $2 proto esp reqid 1 mode tunnel ||
        return 1
    done
  else
    # Policy-based: selectors on /32 inner addresses held on lo.
    for side in "esp-a 10.99.2.1 10.99.2.2 10.98.2.1 10.98.2.2" "esp-b 10.99.2.2 10.99.2.1 10.98.2.2 10.98.2.1"; do
      set -- $side
      ip -n $1 addr add $4/32 dev lo && ip -n $1 route add $5/32 dev veth0 src $4 &&
        ip -n $1 xfrm policy add dir out src $4/32 dst $5/32 tmpl src $2 dst $3 proto esp reqid 1 mode tunnel &&
        ip -n $1 xfrm policy add dir in src $5/32 dst $4/32 tmpl src $3 dst $2 proto esp reqid 1 mode tunnel ||
        return 1
    done
  fi
}
# Modules come from runInVm's `modules` (the guest has no modprobe of its own; kernel autoload works).
if [ -d /sys/module/xfrm_interface ]; then IFID="if_id 42"; via="xfrm interface xfrm42 (if_id 42)"; else IFID=""; via="policy-based SAs (no xfrm_interface)"; fi
if esp_setup && ip netns exec esp-a ping -c 3 -i 0.2 -W 2 10.98.2.2 >/tmp/esp.ping && all_answered 3 /tmp/esp.ping; then
  # `ip -s xfrm state` reports "lifetime current: <bytes>(bytes), <packets>(packets)" per SA.
  packets=$(ip -n esp-b -s xfrm state get src 10.99.2.1 dst 10.99.2.2 proto esp spi 0x101 | sed -n 's/.*, \([0-9]*\)(packets).*/\1/p')
  if [ "${packets:-0}" -ge 3 ]; then
    check esp ok "3/3 pings over rfc4106(gcm(aes)) via $via, inbound SA decrypted $packets packets"
  else
    check esp fail "pings answered but the inbound SA counted ${packets:-no} packets: traffic bypassed ESP"
  fi
else
  check esp fail "via $via: $(tail -n 3 /tmp/esp.ping 2>/dev/null | tr '\n' ' ')"
fi

# netem (sch_netem): 50 ms on one egress must show in every round trip.
if pair nem-a nem-b 10.99.3.1 10.99.3.2 && tc -n nem-a qdisc add dev veth0 root netem delay 50ms &&
  ip netns exec nem-a ping -c 5 -i 0.2 -W 2 10.99.3.2 >/tmp/netem.ping && all_answered 5 /tmp/netem.ping; then
  rtt=$(min_rtt </tmp/netem.ping)
  if awk -v r="$rtt" 'BEGIN { exit !(r >= 50) }'; then
    check netem ok "5/5 pings with netem delay 50ms: min rtt ${rtt} ms"
  else
    check netem fail "netem delay 50ms but min rtt ${rtt} ms"
  fi
else
  check netem fail "$(tail -n 3 /tmp/netem.ping 2>/dev/null | tr '\n' ' ')"
fi

for ns in gre-a gre-b esp-a esp-b nem-a nem-b; do ip netns del $ns 2>/dev/null; done
exit $failed

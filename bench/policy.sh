#!/usr/bin/env bash
# Egress policy's costs (docs/reference.md §16), in a throw-away network namespace:
#  1. one `policy set` (wall time of the command, and of its one nft -f from --debug) with 10
#     and then BIG sandboxes holding policies: flat if the second equals the first;
#  2. the latency netctl's resolver adds to an answer of a name an --allow covers (dns-tool
#     `latency`, 300 queries one at a time), against a sandbox without a policy.
# Knobs: BIG (default 200; the issue's figure is 1000), REPS (policy changes timed, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
BIG=${BIG:-200}; REPS=${REPS:-10}
T=ncpol$$; H=${T}h; O=${T}o
ROOT=$(mktemp -d /tmp/netctl-bench-policy.XXXXXX)
cleanup() {
  set +e
  [[ -n ${UP:-} ]] && kill "$UP"
  for n in $(ip netns list | awk '{print $1}' | grep "^$T"); do ip netns del "$n"; done
  rm -rf "$ROOT" "/etc/netns/$H" /etc/netns/"$T"-*
}
trap cleanup EXIT
npm run build >/dev/null
N() { nsenter --net=/var/run/netns/$H env NETCTL_FIREWALL_BACKEND=nftables "$PWD/bin/netctl" --root "$ROOT" "$@"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
ip netns add $H; ip -n $H link set lo up
ip netns add $O; ip -n $H link add ${T}x type veth peer name eth0 netns $O
ip -n $H addr add 192.0.2.1/24 dev ${T}x; ip -n $H link set ${T}x up
ip -n $O addr add 192.0.2.2/24 dev eth0; ip -n $O link set eth0 up; ip -n $O link set lo up
mkdir -p /etc/netns/$H; echo "nameserver 192.0.2.2" > /etc/netns/$H/resolv.conf
nsenter --net=/var/run/netns/$O node dist/test/helpers/dns-tool.js serve 192.0.2.2 '{"api.example.test":"192.0.2.4"}' >/dev/null &
UP=$!
N create --subnet 10.80.0.0/16 web >/dev/null

add() { # sandboxes $1..$2, each with a policy
  local names=() i
  for i in $(seq "$1" "$2"); do ip netns add "$T-s$i"; names+=("$T-s$i"); done
  N connect web "${names[@]}"
  for i in $(seq "$1" "$2"); do N policy set "$T-s$i" --allow "10.9.$((i % 250)).0/24:443" --deny 10.9.0.9 >/dev/null; done
}
change() { # REPS changes of one sandbox's policy: median wall ms, median nft ms
  local w=() n=() i s
  for i in $(seq 1 "$REPS"); do
    s=$(date +%s%N)
    n+=("$(N --debug policy set "$T-s1" --allow "10.8.$i.0/24:443" 2>&1 | grep -o 'nft -f .*exit 0 ([0-9.]* ms)' | grep -o '[0-9.]* ms)' | tr -d ' ms)')")
    w+=("$(ms "$s")")
  done
  printf '%s\n' "${w[@]}" | sort -n | awk '{a[NR]=$1} END {printf "wall %s ms", a[int((NR+1)/2)]}'
  printf '%s\n' "${n[@]}" | sort -n | awk '{a[NR]=$1} END {printf ", nft -f %s ms\n", a[int((NR+1)/2)]}'
}
add 1 10
echo "policy set, 10 sandboxes with policies: $(change)"
add 11 "$BIG"
echo "policy set, $BIG sandboxes with policies: $(change)"

N sandbox create --net web --egress-allow api.example.test:80 "$T-a" >/dev/null
N sandbox create --net web "$T-c" >/dev/null
for x in c a; do
  echo "answers to $T-$x ($([[ $x == a ]] && echo 'name rule' || echo 'no policy')): $(
    nsenter --net=/var/run/netns/$T-$x node dist/test/helpers/dns-tool.js latency 10.80.0.1 api.example.test 300)"
done

#!/usr/bin/env bash
# Docker's engine in the shape of bench/ports.sh at a smaller N (issue 32): DOCKER_N containers,
# each publishing PORTS ports, started one by one (`docker run -d -p ... x PORTS`) on one
# user-defined network. A private dockerd (its own data root, exec root and socket, vfs,
# --userland-proxy=false: published ports are DNAT rules, as netctl's) in a throw-away network
# namespace, so its bridges and iptables rules live there alone. Prints a markdown section; when
# there is no dockerd, says so. Knobs: DOCKER_N (default 100), PORTS (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
N=${DOCKER_N:-100}; PORTS=${PORTS:-32}
if ! command -v dockerd >/dev/null || ! [[ -x /bin/busybox ]]; then
  echo "## Docker's engine, $N containers x $PORTS ports: not measured (dockerd or busybox-static not installed)"
  exit 0
fi
source bench/lib.sh

D=$(mktemp -d /tmp/netctl-dports.XXXXXX)
NS=ncdp$$
export DOCKER_HOST="unix://$D/docker.sock" DOCKER_CONFIG="$D/cli"
cleanup() {
  set +e
  if docker info >/dev/null 2>&1; then
    ids=$(docker ps -aq)
    [[ -n $ids ]] && docker rm -f $ids >/dev/null 2>&1
  fi
  if [[ -s $D/docker.pid ]]; then
    pid=$(cat "$D/docker.pid"); kill "$pid" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  # What the engine may have left mounted, inside this run's directory only.
  if [[ -n "$D" && "$D" == /tmp/netctl-dports.* ]]; then
    findmnt -rn -o TARGET | grep "^$D/" | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$D"
  fi
  ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT

ip netns add "$NS"; ip -n "$NS" link set lo up
mkdir -p "$D/cli"
nsenter --net="/var/run/netns/$NS" setsid dockerd --storage-driver=vfs --data-root="$D/root" --exec-root="$D/exec" \
  -H "$DOCKER_HOST" --pidfile "$D/docker.pid" --userland-proxy=false >"$D/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker info >/dev/null 2>&1 || { echo "dockerd did not start: $(tail -3 "$D/dockerd.log")" >&2; exit 1; }
rootfs="$D/rootfs"; mkdir -p "$rootfs/bin"; cp /bin/busybox "$rootfs/bin/busybox"; ln -s busybox "$rootfs/bin/sleep"
tar -C "$rootfs" -c . | docker import - bb:latest >/dev/null
docker network create --subnet 10.82.0.0/16 bigd >/dev/null

: > "$D/times"
for (( i = 1; i <= N; i++ )); do
  ports=()
  for (( p = 0; p < PORTS; p++ )); do ports+=(-p "$(( 20000 + (i - 1) * PORTS + p )):$(( 80 + p ))"); done
  t0=$(now); docker run -d --network bigd "${ports[@]}" bb:latest sleep 1d >/dev/null; t1=$(now)
  ms "$t0" "$t1" >> "$D/times"
done
tenth=$(( N / 10 > 0 ? N / 10 : 1 ))
first=$(head -"$tenth" "$D/times" | median); last=$(tail -"$tenth" "$D/times" | median)
rules=$(nsenter --net="/var/run/netns/$NS" iptables-save | grep -c -- '-A DOCKER' || true)
echo "## Docker's engine in the same shape ($N containers x $PORTS ports, one network)"
echo
echo "$(dockerd --version | sed 's/,.*//'), a private engine in its own namespace, \`--userland-proxy=false\`" \
  "(published ports as DNAT rules), each container by its own \`docker run -d -p ... x$PORTS\` (which also starts" \
  "the container, as \`sandbox create\` makes the namespace)."
echo
echo "| engine | run, median of first / last $tenth (ms) | run p50 / p99 (ms) | rules per port |"
echo "|---|---|---|---|"
echo "| docker | $first / $last ($(div "$last" "$first")x) | $(pct 50 < "$D/times") / $(pct 99 < "$D/times") |" \
  "$(div "$rules" $(( N * PORTS ))) |"

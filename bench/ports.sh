#!/usr/bin/env bash
# Published ports at scale (issue 32): SANDBOXES sandboxes, each publishing PORTS ports, made one
# by one on one user-defined network (with netctl's resolver), on each firewall backend, in a
# throw-away namespace. Prints a markdown section: per backend, the median create of the first
# and of the last 50 and their ratio, p50/p99 of every create, what the kernel holds per port,
# the store's size per sandbox and per port, the peak memory of the last create, and inspect of
# the whole network against a bare node; then Docker's engine in the same shape at a smaller N
# (bench/docker-ports.sh). Knobs: SANDBOXES (default 1000), PORTS (default 32), DOCKER_N (100).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
SANDBOXES=${SANDBOXES:-1000}; PORTS=${PORTS:-32}; BACKENDS=${BACKENDS:-nftables iptables}
BIN="$PWD/bin/netctl"
source bench/lib.sh

scratch ports ncp

run_backend() { # BACKEND -> rows in $OUT/rows.md
  local be=$1 root="$OUT/root-$1" i p ports t0 t1
  ip netns add "$NS"; ip -n "$NS" link set lo up
  ncx() { nsenter --net="/var/run/netns/$NS" env NETCTL_FIREWALL_BACKEND="$be" "$BIN" --root "$root" "$@"; }
  ncx create --subnet 10.80.0.0/16 big >/dev/null
  # A connect of a sandbox without ports (10, each removed again): at 20 sandboxes, then at the end.
  connects() {
    local k
    for (( k = 1; k <= 10; k++ )); do
      ip netns add "ncp$$-c$k"
      t0=$(now); ncx connect big "ncp$$-c$k" >/dev/null; t1=$(now); ms "$t0" "$t1"
      ncx sandbox rm "ncp$$-c$k" >/dev/null; ip netns del "ncp$$-c$k"
    done | median
  }
  # The removal of five sandboxes with their ports, one by one.
  removals() { local k; for k in "$@"; do t0=$(now); ncx sandbox rm "ncp$$-$k" >/dev/null; t1=$(now); ms "$t0" "$t1"; done | median; }
  local conn0 conn1 rm0 rm1
  : > "$OUT/$be.tsv"
  for (( i = 1; i <= SANDBOXES; i++ )); do
    ports=()
    for (( p = 0; p < PORTS; p++ )); do ports+=(-p "$(( 20000 + (i - 1) * PORTS % 40000 + p )):$(( 80 + p ))"); done
    [[ $i == "$SANDBOXES" ]] && continue
    t0=$(now); ncx sandbox create "ncp$$-$i" --net big "${ports[@]}" >/dev/null; t1=$(now)
    echo "$(ms "$t0" "$t1")" >> "$OUT/$be.tsv"
    [[ $i == 20 ]] && { conn0=$(connects); rm0=$(removals 1 2 3 4 5); }
  done
  # The last one under /usr/bin/time: its peak memory.
  local rss
  rss=$( { nsenter --net="/var/run/netns/$NS" env NETCTL_FIREWALL_BACKEND="$be" /usr/bin/time -f '%M' \
    "$BIN" --root "$root" sandbox create "ncp$$-$SANDBOXES" --net big "${ports[@]}" >/dev/null; } 2>&1 | tail -1)
  local first last all50 p50 p99 per_port store inspect
  first=$(head -50 "$OUT/$be.tsv" | median); last=$(tail -50 "$OUT/$be.tsv" | median)
  p50=$(pct 50 < "$OUT/$be.tsv"); p99=$(pct 99 < "$OUT/$be.tsv")
  if [[ $be == nftables ]]; then
    per_port=$(nsenter --net="/var/run/netns/$NS" nft -j list table inet netctl |
      node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s).nftables;
        let n=0;for(const x of o){const t=x.set||x.map;if(t&&t.elem)n+=t.elem.length}console.log(n)})')
    per_port="$(div "$per_port" $(( SANDBOXES * PORTS ))) set elements"
  else
    per_port=$(nsenter --net="/var/run/netns/$NS" sh -c 'iptables-save; ip6tables-save' | grep -c -- '-A NETCTL')
    per_port="$(div "$per_port" $(( SANDBOXES * PORTS ))) rules"
  fi
  store=$(du -sk "$root" | awk '{ print $1 }')
  inspect=$(for k in 1 2 3 4 5; do t0=$(now); ncx inspect big >/dev/null; t1=$(now); ms "$t0" "$t1"; done | median)
  # Below 20 sandboxes there is no "at 20" to compare with.
  (( SANDBOXES >= 20 )) && { conn1=$(connects); rm1=$(removals 6 7 8 9 10); }
  echo "| $be | $first / $last ($(div "$last" "$first")x) | $p50 / $p99 |" \
    "$per_port | $(( store / SANDBOXES )) KB / $(( store * 1024 / SANDBOXES / PORTS )) B |" \
    "$(( rss / 1024 )) MB | $inspect |" >> "$OUT/rows.md"
  (( SANDBOXES >= 20 )) &&
    echo "| $be | $conn0 / $conn1 ($(div "$conn1" "$conn0")x) | $rm0 / $rm1 ($(div "$rm1" "$rm0")x) |" >> "$OUT/more.md"
  local first=$(( SANDBOXES >= 20 ? 11 : 1 ))
  ncx sandbox rm $(for (( i = first; i <= SANDBOXES; i++ )); do echo "ncp$$-$i"; done) >/dev/null
  ncx rm big >/dev/null
  pkill -f "resolver.cjs --root $root" 2>/dev/null || true
  ip netns del "$NS"
}

: > "$OUT/rows.md"; : > "$OUT/more.md"
for be in $BACKENDS; do run_backend "$be"; done
NODE=$(for k in 1 2 3 4 5; do t0=$(now); env -u NODE_EXTRA_CA_CERTS node -e 0; t1=$(now); ms "$t0" "$t1"; done | median)

echo "## Published ports at scale ($SANDBOXES sandboxes x $PORTS ports, one network)"
echo
echo "Each sandbox made by its own \`sandbox create -p ...\` (x$PORTS), on a user-defined network with"
echo "netctl's resolver. Targets: last 50 / first 50 <= 1.3x on nftables, <= 2.0x on iptables;"
echo "inspect of the $SANDBOXES-endpoint network <= 2x a bare node ($NODE ms here)."
echo
echo "| backend | create, median of first / last 50 (ms) | create p50 / p99 (ms) | per port in the kernel |" \
  "store per sandbox / per port | peak RSS, last create | inspect of the network (ms) |"
echo "|---|---|---|---|---|---|---|"
cat "$OUT/rows.md"
echo
echo "The other changes, at 20 sandboxes and at $SANDBOXES: a connect of a sandbox without ports (median of 10)," \
  "and the removal of a sandbox with its $PORTS ports (median of 5)."
echo
echo "| backend | connect, at 20 / at $SANDBOXES (ms) | rm of a sandbox with ports, at 20 / at $SANDBOXES (ms) |"
echo "|---|---|---|"
cat "$OUT/more.md"
echo
# Docker's engine with the same shape, at the N this machine allows (bench/docker-ports.sh).
[[ ${DOCKER_N:-100} == 0 ]] || PORTS=$PORTS bash bench/docker-ports.sh 2>"$OUT/docker.err" ||
  echo "## Docker's engine in the same shape: not measured ($(tail -1 "$OUT/docker.err"))"

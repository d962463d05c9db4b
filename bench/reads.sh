#!/usr/bin/env bash
# Reads at scale (issue 32): `ls` and `inspect` of a store of BIG networks, and `inspect`/`ls` of
# one network of BIG endpoints, against a bare `node -e 0` (without NODE_EXTRA_CA_CERTS),
# side by side: ROUNDS rounds of [bare node, each command] in turn, medians of each, on every
# Node line given (NODES: bin directories, first on PATH in turn; default the one on PATH).
# Also the store's size per network and per endpoint. In a throw-away namespace; prints a
# markdown section. Knobs: BIG (default 1000), ROUNDS (default 20), NODES.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
BIG=${BIG:-1000}; ROUNDS=${ROUNDS:-20}; NODES=${NODES:-$(dirname "$(command -v node)")}
BIN="$PWD/bin/netctl"
source bench/lib.sh
scratch reads ncr
inns() { nsenter --net="/var/run/netns/$NS" "$@"; }

ip netns add "$NS"; ip -n "$NS" link set lo up
NETS="$OUT/nets"; EPS="$OUT/eps"
for (( i = 0; i < BIG; i++ )); do
  inns "$BIN" --root "$NETS" create --subnet "10.$(( 100 + i / 256 )).$(( i % 256 )).0/24" "ncr-net-$i" >/dev/null
done
inns "$BIN" --root "$EPS" create --subnet 10.90.0.0/16 big >/dev/null
for (( i = 1; i <= BIG; i++ )); do ip netns add "ncr$$-$i"; done
inns "$BIN" --root "$EPS" connect big $(for (( i = 1; i <= BIG; i++ )); do echo "ncr$$-$i"; done) >/dev/null
size() { stat -c %s "$1/store.json"; }
PER_NET=$(( $(size "$NETS") / (BIG + 3) )); PER_EP=$(( ($(size "$EPS") - $(size "$NETS") / (BIG + 3) * 4) / BIG ))

# One round: the bare node, then each command, each timed as a whole invocation.
CMDS=("ls:$NETS:ls" "inspect:$NETS:inspect ncr-net-$(( BIG / 2 ))" "ls:$EPS:ls" "inspect:$EPS:inspect big")
for dir in $NODES; do
  v=$(PATH="$dir:$PATH" node --version)
  : > "$OUT/t-$v"
  for (( k = 0; k < ROUNDS + 1; k++ )); do
    t0=$(now); PATH="$dir:$PATH" inns env -u NODE_EXTRA_CA_CERTS node -e 0; t1=$(now)
    (( k )) && echo "node $(ms "$t0" "$t1")" >> "$OUT/t-$v"
    for c in "${!CMDS[@]}"; do
      IFS=: read -r _ root args <<< "${CMDS[$c]}"
      # shellcheck disable=SC2086
      t0=$(now); PATH="$dir:$PATH" inns "$BIN" --root "$root" $args >/dev/null; t1=$(now)
      (( k )) && echo "c$c $(ms "$t0" "$t1")" >> "$OUT/t-$v"
    done
  done
done

echo "## Reads at scale ($BIG networks; one network of $BIG endpoints)"
echo
echo "Side by side: $ROUNDS rounds of a bare \`node -e 0\` (without NODE_EXTRA_CA_CERTS) and each command in turn;" \
  "medians in ms. Targets: ls and inspect of $BIG networks ≤ 1.5× a bare node, inspect of a $BIG-endpoint" \
  "network ≤ 2×. The store: $PER_NET B per network, $PER_EP B per endpoint (and its sandbox)."
echo
echo "| Node | command | ms | bare node | ratio | target | |"
echo "|---|---|---:|---:|---:|---:|---|"
for dir in $NODES; do
  v=$(PATH="$dir:$PATH" node --version)
  bare=$(awk '$1 == "node" { print $2 }' "$OUT/t-$v" | median)
  for c in "${!CMDS[@]}"; do
    IFS=: read -r _ root args <<< "${CMDS[$c]}"
    what="$args, $( [[ $root == "$NETS" ]] && echo "$BIG networks" || echo "$BIG endpoints")"
    t=$(awk -v c="c$c" '$1 == c { print $2 }' "$OUT/t-$v" | median)
    target=$( [[ $root == "$NETS" ]] && echo 1.5 || { [[ $args == inspect* ]] && echo 2.0 || echo ""; } )
    r=$(div "$t" "$bare")
    met=""; [[ -n $target ]] && met=$(awk -v r="$r" -v t="$target" 'BEGIN { print (r <= t ? "met" : "missed") }')
    echo "| $v | $what | $t | $bare | $r | ${target:+≤ $target} | $met |"
  done
done

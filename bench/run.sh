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

# The peer comparison above measures one backend after the other, minutes apart, and this
# machine's speed drifts by tens of percent over minutes. The same connect and disconnect
# asked side by side: each round runs a bare node, Docker's connect and disconnect, and
# netctl's, in turn (the order alternating), so all three meet the same load.
log "side by side: node, docker and netctl connect/disconnect, interleaved ($REPS rounds)"
: > "$OUT/sbs.tsv"
export DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/netctl-bench/docker.sock}
IMAGE=${IMAGE:-bb:latest}
SBS_DOCKER=0
# Docker connects a container that is on a network already (one on `none` cannot join another).
if docker image inspect "$IMAGE" >/dev/null 2>&1 &&
   docker network create --subnet 10.231.96.0/22 ncb-sbs >/dev/null 2>&1 &&
   docker network create --subnet 10.231.104.0/22 ncb-sbs-base >/dev/null 2>&1; then
  docker run -d --name ncb-sbs-c --network ncb-sbs-base "$IMAGE" sleep 86400 >/dev/null 2>&1 && SBS_DOCKER=1
fi
inns $NETCTL create --subnet 10.231.100.0/22 ncb-sbs >/dev/null
ip netns add ncb-sbs-c
# The floor of a connect (bench/floor.cjs): the kernel work and two durable writes, nothing else.
ip netns add ncb-sbs-f
inns ip link add ncb-floor type bridge && inns ip addr add 10.231.108.1/22 dev ncb-floor &&
  inns ip link set ncb-floor up
sbs_node() { inns env -u NODE_EXTRA_CA_CERTS node -e 0; }
sbs_floor() {
  inns env -u NODE_EXTRA_CA_CERTS node bench/floor.cjs ncb-floor ncb-sbs-f 10.231.108.10/22 10.231.108.1 "$OUT"
}
sbs_docker() { inns docker network "$1" $([[ $1 == connect ]] && echo "--ip 10.231.96.10") ncb-sbs ncb-sbs-c; }
sbs_netctl() { inns $NETCTL "$1" $([[ $1 == connect ]] && echo "--ip 10.231.100.10") ncb-sbs ncb-sbs-c; }
for (( r = 0; r <= REPS; r++ )); do
  order="node floor docker netctl"; (( r % 2 )) && order="netctl docker floor node"
  for who in $order; do
    [[ $who == docker ]] && (( ! SBS_DOCKER )) && continue
    if [[ $who == node ]]; then
      t0=$(now); sbs_node; t1=$(now); (( r )) && echo "node noop $(ms "$t0" "$t1")" >> "$OUT/sbs.tsv"
      continue
    fi
    if [[ $who == floor ]]; then
      t0=$(now); if sbs_floor; then t1=$(now); (( r )) && echo "floor connect $(ms "$t0" "$t1")" >> "$OUT/sbs.tsv"; fi
      ip -n ncb-sbs-f link del eth0 2>/dev/null || true # its peer goes with it
      continue
    fi
    for op in connect disconnect; do
      t0=$(now); "sbs_$who" "$op" >/dev/null; t1=$(now)
      (( r )) && echo "$who $op $(ms "$t0" "$t1")" >> "$OUT/sbs.tsv" # round 0 warms up
    done
  done
done
sbs() { awk -v w="$1" -v o="$2" '$1 == w && $2 == o { print $3 }' "$OUT/sbs.tsv" | median; }
SBS_NODE=$(sbs node noop); SBS_NC=$(sbs netctl connect); SBS_ND=$(sbs netctl disconnect); SBS_FLOOR=$(sbs floor connect)
SBS_DC=$( (( SBS_DOCKER )) && sbs docker connect || echo NA)
SBS_DD=$( (( SBS_DOCKER )) && sbs docker disconnect || echo NA)
docker_sbs_cleanup() {
  docker rm -f ncb-sbs-c >/dev/null 2>&1
  docker network rm ncb-sbs ncb-sbs-base >/dev/null 2>&1
  return 0
}
docker_sbs_cleanup
inns $NETCTL sandbox rm -f ncb-sbs-c >/dev/null
inns $NETCTL rm ncb-sbs >/dev/null
ip netns del ncb-sbs-c
ip netns del ncb-sbs-f
inns ip link del ncb-floor

log "bulk: one connect of $N sandboxes, one sandbox rm of $N"
inns $NETCTL create --subnet 10.231.92.0/22 ncb-bulk >/dev/null
for (( i = 1; i <= N; i++ )); do ip netns add "ncb-$i"; done
names=(); for (( i = 1; i <= N; i++ )); do names+=("ncb-$i"); done
t0=$(now); inns $NETCTL connect ncb-bulk "${names[@]}"; t1=$(now); BULK_CONNECT=$(ms "$t0" "$t1")
# ls, and inspect of this network of N endpoints, in turn with a bare node: the peer rows'
# floor is measured minutes before them, while this machine's speed drifts.
for (( r = 0; r <= REPS; r++ )); do
  order="node ls inspect"; (( r % 2 )) && order="inspect ls node"
  for w in $order; do
    t0=$(now)
    case $w in
      node) sbs_node ;;
      ls) inns $NETCTL ls >/dev/null ;;
      inspect) inns $NETCTL inspect ncb-bulk >/dev/null ;;
    esac
    t1=$(now); (( r )) && echo "$w show $(ms "$t0" "$t1")" >> "$OUT/show.tsv" # round 0 warms up
  done
done
show() { awk -v w="$1" '$1 == w { print $3 }' "$OUT/show.tsv" | median; }
SHOW_NODE=$(show node); SHOW_LS=$(show ls); SHOW_INSPECT=$(show inspect)
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
LS_NETS=$(for k in 1 2 3 4 5; do t0=$(now); inns $NETCTL ls >/dev/null; t1=$(now); ms "$t0" "$t1"; echo; done | median)
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
    "apart. bin/netctl also starts node without the variable (netctl opens no TLS connection; its children get" \
    "the variable back)."
  echo
  echo "## Targets"
  echo
  echo "Against Docker's engine and against the bare Node floor (\`node -e 0\` without NODE_EXTRA_CA_CERTS, in the" \
    "same run). Rows marked *side by side* come from rounds that run a bare node and the commands compared in" \
    "turn (Docker's connect/disconnect and netctl's; netctl's ls and inspect of a network of $N endpoints), $REPS" \
    "rounds (the others from the peer benchmark, which measures one backend after the other, minutes apart, while" \
    "this machine's speed drifts)."
  echo
  echo "| figure | netctl | baseline | ratio | target | |"
  echo "|---|---:|---|---:|---:|---|"
  row "connect --ip" "$(fig netctl.connect.median_ms)" "docker" "$(fig docker.connect.median_ms)" 0.9
  row "connect --ip, side by side" "$SBS_NC" "docker" "$SBS_DC" 0.9
  row "disconnect" "$(fig netctl.disconnect.median_ms)" "docker" "$(fig docker.disconnect.median_ms)" 0.9
  row "disconnect, side by side" "$SBS_ND" "docker" "$SBS_DD" 0.9
  row "connect --ip" "$(fig netctl.connect.median_ms)" "bare node" "$NODE" 1.6
  row "connect --ip, side by side" "$SBS_NC" "bare node" "$SBS_NODE" 1.6
  row "create --subnet" "$(fig netctl.create.median_ms)" "docker" "$(fig docker.create.median_ms)" 0.6
  row "rm" "$(fig netctl.rm.median_ms)" "docker" "$(fig docker.rm.median_ms)" 0.5
  row "ls, $N endpoints" "$(fig netctl.scale.ls_at${N}.median_ms)" "bare node" "$NODE" 1.4
  row "inspect, $N endpoints" "$(fig netctl.scale.inspect_at${N}.median_ms)" "bare node" "$NODE" 1.4
  row "ls, $N endpoints, side by side" "$SHOW_LS" "bare node" "$SHOW_NODE" 1.4
  row "inspect, $N endpoints, side by side" "$SHOW_INSPECT" "bare node" "$SHOW_NODE" 1.4
  row "--version" "$(fig netctl.noop.median_ms)" "bare node" "$NODE" 1.15
  row "connect at endpoint $N" "$(fig netctl.scale.connect.at${N}_win5_ms)" \
    "connect at endpoint 10" "$(fig netctl.scale.connect.at10_win5_ms)" 1.1
  row "connect at endpoint $N, side by side" "$PAIR_N" "connect at endpoint 10" "$PAIR_N_SMALL" 1.1
  row "bulk connect of $N (one call)" "$BULK_CONNECT" "docker, $N connects" "$DOCKER_CONNECTS" 0.1
  row "bulk sandbox rm of $N (one call)" "$BULK_RM" "docker, $N disconnects" "$DOCKER_DISCONNECTS" 0.25
  row "connect at endpoint $BIG, side by side" "$PAIR_BIG" "connect at endpoint 10" "$PAIR_SMALL" 1.2
  row "connect at endpoint $BIG, sequential" "$SBIG" "connect at endpoint 10" "$S10" 1.2
  row "ls with $BIG networks" "$LS_NETS" "bare node" "$NODE" 2.0
  row "apply -f of $AP sandboxes (one call)" "$APPLY_ONE" "$(( AP + 1 )) commands" "$APPLY_CMDS" 0.5
  echo
  RSS_MAX=$(( (RSS_KB > RSS_LS_KB ? RSS_KB : RSS_LS_KB) / 1024 ))
  echo "Peak RSS with $BIG endpoints in the store: connect $(( RSS_KB / 1024 )) MB, inspect $(( RSS_LS_KB / 1024 ))" \
    "MB (target ≤ 60 MB: $( (( RSS_MAX <= 60 )) && echo met || echo missed))."
  echo
  echo "The floor of a connect, side by side: a Node process that does nothing but a connect's kernel work (the same" \
    "two \`ip -batch\` processes, started at once) and two fdatasyncs, bench/floor.cjs, took $SBS_FLOOR ms:" \
    "$(ratio "$SBS_FLOOR" "$SBS_DC")× Docker's connect and $(ratio "$SBS_FLOOR" "$SBS_NODE")× the bare node." \
    "netctl's connect took" \
    "$(awk -v a="$SBS_NC" -v b="$SBS_FLOOR" \
      'BEGIN { if (a == "NA" || b == "NA") print "NA"; else printf "%.1f", a - b }')" \
    "ms more: its own work (compiling the bundle, parsing, the lock, the store, the plan)."
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
    "gets as far, then exits); \`bundle compiled\` is reading netctl's bundle and compiling it from its V8 code" \
    "cache; \`bundle running\` its top level; \`program loaded/built\` is commander and the one command the" \
    "arguments name; then the lock, the store read and the plan. The two \`ip -batch\` processes (host side, then" \
    "inside the sandbox through nsenter) are spawned *before* the journal intent is written and given their" \
    "commands after it, so their start-up overlaps the write; the kernel work itself (a veth created inside the" \
    "netns, enslaved, addressed, routed) is a few ms, and serial: the netns side configures the peer the host" \
    "side made. \`store: commit\` is the one durable write (one pwrite of a journal slot and one fdatasync: no" \
    "temp file, rename or directory fsync). After \`exit\`, Node tears down; the last line is the whole" \
    "invocation as the shell sees it. Set \`NETCTL_TRACE=1\` on any command to see the same marks."
  echo
  echo "What start-up is made of, and what was taken off it. 2026-12-02 (on \`ls\`): the bundle is emitted without" \
    "comments or indentation and in ASCII (527 → 367 KB; one \"§\" had made V8 hold the whole source as a" \
    "two-byte string): compile from the code cache 5.7 → 3.2 ms; commander's eager" \
    "\`require('node:child_process')\` is made lazy at build time; a finished command calls process.exit," \
    "skipping Node's teardown of its environment. 2026-12-03: a mutating command loaded \`node:child_process\` to" \
    "spawn (streams, net and dgram with it: ~3.4 ms) and \`net.Server\` for the lock, whose first listen() loads" \
    "\`node:cluster\` (~1.7 ms with the listen); each spawn built three stream objects (~1 ms). The Runner and" \
    "the lock now use the libuv handles those modules are built on (process_wrap, pipe_wrap: src/lib/uv.ts), with" \
    "child_process kept as the fallback: netctl's own time past \`node ready\` went 30 → 20 ms on a connect and" \
    "26 → 17 ms on a disconnect (NETCTL_TRACE medians of 20, same machine, same hour). Commander now defines only" \
    "the command named (1.6 → 0.8 ms); bin/netctl no longer loads the \`module\` builtin to make the bundle's" \
    "require; \`iptables-save\` starts with the kernel steps instead of after them (create, rm, -p: ~4 ms). Tried" \
    "and dropped: a V8 startup snapshot (\`node --snapshot-blob\`, Node 20): an empty user-land snapshot starts" \
    "4–5 ms *slower* than \`node -e 0\` (32.0 vs 26.7 ms), more than the compile it would save;" \
    "\`--v8-pool-size=0\`: no measurable change."
  echo
  echo "Later on 2026-12-03 (NETCTL_TRACE medians, same machine): the journal is written in place into checksummed" \
    "slots (\`journal.slots\`, see docs/reliability.md) instead of a temp file renamed over \`journal.json\`: a" \
    "commit is one pwrite and one fdatasync, 2.1 → 1.1 ms, and the intent lost its rename (~0.75 ms: ext4 flushes" \
    "a file renamed over another); reading the slots costs ~0.8 ms more than reading one file (a body is written" \
    "before its head, so within a boot no sum needs checking; the CRC-32 is zlib's, through its binding). /proc" \
    "files are read into a small buffer: fs.readFileSync's path for files of size 0 cost ~0.8 ms the first time." \
    "\`node:os\` is no longer loaded by spawning commands (~0.5 ms), \`import.meta.url\` is made when read rather" \
    "than at bundle load (~0.5 ms), the firewall backend is found with stat instead of access (each PATH miss" \
    "threw), \`--ip\`'s special-purpose blocks are written out instead of parsed (~0.7 ms, the IPv6 parser's" \
    "first run), config.json is looked for before it is read; inspect takes its sandboxes' names from one pass" \
    "over the index and counts IPv4 usage in plain numbers. Tried and dropped: starting the sandbox's \`ip\`" \
    "while the host's runs rather than before the journal (its own start then lies on the critical path: no" \
    "gain); \`ip -n\` instead of nsenter (3 ms slower with 200 named netns); \`--preserve-symlinks-main\` to skip" \
    "the main script's realpath (~0.9 ms, but a link from node_modules/.bin inside a \`\"type\": \"module\"\`" \
    "project would load bin/netctl as ESM); a hash computed in JavaScript for every read and write (0.2 ms for 3" \
    "KB, 1.3 ms for 30 KB, cold: a steady journal of ~30 records made commands slower overall) and node:zlib" \
    "itself (~5 ms to load). A spawn blocks ~1.1 ms whatever is done around it: libuv forks, and a fork of this" \
    "process (7.8 MB anonymous memory at the first spawn) costs ~0.05 ms per MB plus ~0.3 ms, measured with a C" \
    "program."
  echo
  echo "Later still on 2026-12-03 (interleaved A/B of the build before and after, 60 rounds, NETCTL_TRACE medians," \
    "in an hour when a bare node took ~45 ms here): ls and inspect of networks have their own module" \
    "(commands/network-show.ts), so create, connect, disconnect and rm no longer load the views, the template" \
    "engine and its Go functions; a template of text and plain \`{{.Field}}\` actions (ls's default tables)" \
    "renders its rows without the interpreter, whose parse and first run were most of a default ls (a row with a" \
    "field that is not a string, or past the output bound, still goes through it; a template Go cannot parse is" \
    "still refused); the bundle file is the function bin/netctl compiles, so V8 gets the text as read instead of" \
    "a 380 KB copy with the wrapper put around it (~0.4 ms, measured apart); the runner looks up the parent's" \
    "mount namespace at its first spawn; etcd3's proto-loader describes rpc.proto's messages, and encodes its" \
    "file set, when first read rather than at load (reflection data the gRPC client never reads: loading etcd3" \
    "~117 → ~69 ms, each cluster command); inspect's JSON is written by JSON.stringify without a replacer (V8's" \
    "fast path) unless a bigint is in it. connect, parsed → done 21.9 → 21.0 ms, start → parsed 14.7 → 14.1 ms," \
    "whole 93.9 → 90.8 ms; ls, parsed → done 7.3 → 6.8 ms (7.8 → 6.8 in a run of 30), start → parsed 13.5 → 12.8" \
    "ms; ls and inspect of a network of 100 endpoints, parsed → done 7.1 → 6.2 and 12.1 → 10.2 ms (25 rounds);" \
    "disconnect within the noise (16.5 → 17.4 ms in that run, 17.1 → 17.3 and 15.4 → 15.0 in two others). Tried" \
    "and dropped: minifying identifiers (the bundle 381 → 284 KB, its code cache only 4% smaller: ~0.35 ms," \
    "against mangled names in stacks and in the error classes' names). Found on the way: on this VM the first" \
    "touch of a 4 KB page costs ~2.4 µs (a C program touching 64 MB), and a connect touches ~1030 pages more than" \
    "a bare node (2867 against 1839 minor faults, perf stat --no-inherit), ~2.5 ms, most of them written by the" \
    "code cache's deserializer and by copies of the bundle's text and cache; ls ~640 more. And the first call of" \
    "each of Node's fs functions compiles its JavaScript: the first binary readFileSync costs ~1.1 ms (a utf8 one" \
    "~0.1 ms: a C++ path), the first statSync ~0.5 ms; the shim and the store share them, so moving one saves" \
    "nothing."
  echo
  echo "Later on 2026-12-03 (interleaved A/B, 30 rounds): tried and dropped, one \`ip\` in the sandbox that makes" \
    "the pair and configures it, with the host end sent to netctl's netns already enslaved (\`link add vethX" \
    "netns /proc/PID/ns/net master ifN/ up type veth peer name eth0\`: ip looks a master's name up in the" \
    "sandbox, where a device named \`if7\` would stand in for index 7; a '/' no device name can hold makes it" \
    "read the number) and its IPv6 link-local generation turned off through /proc/sys between two parts of the" \
    "batch. One spawn fewer, but nsenter and then ip must start before the first line, and that start (two execs," \
    "~3 ms) then lies on the critical path: 61.7 → 62.9 ms whole; started as soon as the sandbox is known, 55.8 →" \
    "54.9 ms, not worth a batch in parts and the master by index. Found on the way: an inspect of 100 endpoints" \
    "runs one scavenge (~1.5 ms): start-up fills ~530 KB of the 1 MB young generation before the command begins," \
    "and \`ls\` ends at ~885 KB; passing V8 any heap flag (\`--min-semi-space-size\`) costs node 6–8 ms of" \
    "start-up, more than the scavenge."
  echo
  echo "What the rest is bound by: Node's own start and exit (the floor, ~27–30 ms here); reading the bundle and its" \
    "code cache (~1.5 ms) and compiling from it (~2.5 ms; both grow with the code a command runs, page by page:" \
    "~1000 pages more than a bare node, at ~2.4 µs each on this VM); two spawns, each blocking ~1.2 ms (fork and" \
    "exec from a ~40 MB process); the kernel's veth work (~3–5 ms, serial); one durable write (~1 ms: one pwrite" \
    "and one fdatasync). Docker's CLI is a Go binary that starts in ~12 ms and leaves the work to a warm daemon." \
    "The floor of a connect above (bench/floor.cjs: Node, the two ip processes and two fdatasyncs, nothing else)" \
    "puts a number on that bound: side by side in four runs on 2026-12-03 it came out at 0.95×, 1.00×, 0.73× and" \
    "0.77× Docker's connect (Docker's own swung from 60 to 78 ms), and netctl's connect spent 17–20 ms more than" \
    "it on its own work; 0.9× Docker leaves that work 0–13 ms."
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
  echo "| ls with $BIG networks | $LS_NETS |"
  echo "| rm of $BIG networks in one call | $RM_NETS |"
  echo "| apply -f of $AP sandboxes / the same by $(( AP + 1 )) commands / apply again (no change) | $APPLY_ONE /" \
    "$APPLY_CMDS / $APPLY_NOOP |"
  echo "| sandbox create -p, iptables backend, 1 / $FWNETS networks in use (median of $REPS) | $FW_IPT |"
  echo "| sandbox create -p, nftables backend, 1 / $FWNETS networks in use (median of $REPS) | $FW_NFT |"
  echo
  cat "$OUT/overlay.md"
  echo
  echo "## Side by side (peer-bench.sh, N=$N, REPS=$REPS)"
  echo
  echo '```'
  grep '^#' "$OUT/peers.txt" | sed 's/^# //'
  echo '```'
} > "$OUT/performance.md"
mkdir -p docs && cp "$OUT/performance.md" docs/performance.md
cat docs/performance.md

#!/usr/bin/env bash
# The cost of the cluster-store client to a command: from before etcd3 is required to a
# resolved first range() against a local etcd, unbundled (node_modules/etcd3, parsing
# rpc.proto) and bundled (dist/src/bundle/etcd3.cjs behind src/overlay/etcd.ts, Node's compile
# cache warm on Node >= 22). Medians of REPS runs, beside the bare node floor. etcd runs in a
# throw-away netns, and so do the clients. Run as root after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "bench: run as root" >&2; exit 2; }
REPS=${REPS:-15}
NS=ncetcd$$
TMP=$(mktemp -d /tmp/netctl-etcd-bench.XXXXXX)
cleanup() {
  set +e
  [[ -n ${PID:-} ]] && kill "$PID" && wait "$PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" etcd --data-dir "$TMP/data" --name bench --listen-client-urls http://127.0.0.1:2379 \
  --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 >"$TMP/etcd.log" 2>&1 &
PID=$!
for _ in $(seq 50); do
  ip netns exec "$NS" etcdctl --endpoints 127.0.0.1:2379 put /bench/k v >/dev/null 2>&1 && break
  sleep 0.1
done

# The client as a command would bundle it, requiring dist/src/bundle/etcd3.cjs on its first call.
node --input-type=module -e "import { build } from 'esbuild';
await build({ entryPoints: ['src/overlay/etcd.ts'], bundle: true, format: 'cjs', platform: 'node',
  target: 'node20', outfile: '$TMP/client.cjs', supported: { 'dynamic-import': false }, logLevel: 'warning',
  plugins: [{ name: 'apart', setup(b) {
    b.onResolve({ filter: /^\.\/etcd3-lib\.js\$/ }, () => ({ path: '$PWD/dist/src/bundle/etcd3.cjs', external: true }));
  } }] });"
cat >"$TMP/before.cjs" <<JS
const t0 = process.hrtime.bigint();
const { Etcd3 } = require('$PWD/node_modules/etcd3');
const c = new Etcd3({ hosts: '127.0.0.1:2379' });
c.getAll().prefix('/bench/').exec().then(() => { console.log(Number(process.hrtime.bigint() - t0) / 1e6); c.close(); });
JS
cat >"$TMP/after.cjs" <<JS
const t0 = process.hrtime.bigint();
const { connectEtcd } = require('$TMP/client.cjs');
const c = connectEtcd('etcd://127.0.0.1:2379', ['127.0.0.1:2379']);
c.range('/bench/').then(() => { console.log(Number(process.hrtime.bigint() - t0) / 1e6); c.close(); });
JS
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# Wall time of a whole process, in ms.
wall() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
inns() { env -u NODE_EXTRA_CA_CERTS nsenter --net="/var/run/netns/$NS" "$@"; }
inns node "$TMP/after.cjs" >/dev/null   # a first run, as a warm-up
for v in before after; do
  for _ in $(seq "$REPS"); do inns node "$TMP/$v.cjs"; done | median >"$TMP/$v.in"
  for _ in $(seq "$REPS"); do wall inns node "$TMP/$v.cjs"; done | median >"$TMP/$v.wall"
done
for _ in $(seq "$REPS"); do wall inns node -e 0; done | median >"$TMP/floor.wall"
printf 'require -> first range() resolved: unbundled %s ms, bundled %s ms\n' \
  "$(cat "$TMP/before.in")" "$(cat "$TMP/after.in")"
printf 'whole process: node -e 0 %s ms, unbundled %s ms, bundled %s ms\n' \
  "$(cat "$TMP/floor.wall")" "$(cat "$TMP/before.wall")" "$(cat "$TMP/after.wall")"

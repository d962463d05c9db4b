# Helpers the scale benches share (sourced by ports.sh, reads.sh and docker-ports.sh).
now() { date +%s%N; }
# Milliseconds between two now()s.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# The median and the P-th percentile of the numbers on stdin.
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
pct() { sort -n | awk -v p="$1" '{ a[NR] = $1 } END { i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; print a[i] }'; }
# scratch NAME PREFIX: a throw-away directory /tmp/netctl-NAME.* ($OUT) and namespace ($NS), and
# an EXIT trap that removes them, the namespaces named PREFIX<pid>-* and a resolver of a root
# under $OUT (checking first that $OUT is the directory made here).
scratch() {
  SCRATCH_NAME=$1 SCRATCH_PREFIX=$2$$-
  OUT=$(mktemp -d "/tmp/netctl-$1.XXXXXX")
  NS=nc$1$$
  trap scratch_cleanup EXIT
}
scratch_cleanup() {
  set +e
  for n in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E "^$SCRATCH_PREFIX"); do ip netns del "$n"; done
  ip netns del "$NS" 2>/dev/null
  pkill -f "resolver.cjs --root $OUT/" 2>/dev/null
  [[ -n "$OUT" && "$OUT" == /tmp/netctl-"$SCRATCH_NAME".* ]] && rm -rf "$OUT"
}

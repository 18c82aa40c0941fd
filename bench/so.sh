#!/usr/bin/env bash
# Shared-object benchmark: latency and throughput of RTMP shared objects on
# one shoal-node (same-node) and across two (cross-node: node B joins node
# A's embedded NATS; writers on A, readers on B), with `shoal bench so`.
#
# Usage: bench/so.sh      (builds shoal and shoal-node into a temp dir)
# Environment:
#   SO_DURATION=10s             measurement window of each run
#   SO_RATES="100 1000 10000"   latency-mode rates (changes/s), one reader
#   SO_FANOUT="1 20"            receiving clients of the same-node throughput runs (one object)
#   SO_OBJECTS=16               objects of the many-object throughput runs
#   SO_INFLIGHT="256 16"        unanswered changes per writer in throughput mode; each is run
#   SO_ENCODING=3               object encoding: 0 (AMF0) or 3 (AMF3)
#   SO_BIN=dir                  use shoal and shoal-node from dir instead of building
#   SO_OUT=bench/results/so-<date>.md
#
# Same-node and cross-node latency runs alternate for each rate, so other
# work on the machine weighs on both alike. Node CPU is utime+stime from
# /proc over each run (window, settle and connection setup). The load
# generator runs on the same machine; nothing is pinned. Every run is
# bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

DURATION=${SO_DURATION:-10s}
RATES=${SO_RATES:-100 1000 10000}
FANOUT=${SO_FANOUT:-1 20}
OBJECTS=${SO_OBJECTS:-16}
INFLIGHTS=${SO_INFLIGHT:-256 16}
ENCODING=${SO_ENCODING:-3}
OUT=${SO_OUT:-bench/results/so-$(date +%Y%m%d-%H%M%S).md}

die() { echo "so: $*" >&2; exit 1; }
log() { echo "so: $*" >&2; }

command -v jq >/dev/null || die "jq not installed"
command -v ss >/dev/null || die "ss (iproute2) not installed"
command -v curl >/dev/null || die "curl not installed"

tmp=$(mktemp -d /tmp/shoal-so.XXXXXX)
started=() # pids to stop on exit

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_healthy waits until the node whose HTTP port is $1 answers /healthz.
wait_healthy() {
	for _ in $(seq 200); do
		curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "node on http port $1 not healthy after 20s"
}

# cpu_ticks prints utime+stime of pid $1 in clock ticks.
cpu_ticks() {
	# Field 2 (comm) is in parentheses; count fields after the last ')'.
	sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

if [[ -n ${SO_BIN:-} ]]; then
	bin=$SO_BIN
else
	bin=$tmp/bin
	log "building shoal and shoal-node"
	timeout 600 go build -o "$bin/" ./cmd/shoal ./cmd/shoal-node
fi
SHOAL=$bin/shoal
SHOAL_NODE=$bin/shoal-node
for f in "$SHOAL" "$SHOAL_NODE"; do
	[[ -x $f ]] || die "$f missing"
done

# start_node NAME RTMP_PORT HTTP_PORT [args...] starts shoal-node in its own
# directory (so no shoal-node.yml is picked up), with the environment
# variables in node_env, and sets pid.
node_env=()
start_node() {
	local name=$1 rport=$2 hport=$3 dir=$tmp/$1
	shift 3
	mkdir -p "$dir"
	(cd "$dir" && exec env "${node_env[@]}" "$SHOAL_NODE" --node-id "$name" --rtmp-addr "127.0.0.1:$rport" \
		--http-addr "127.0.0.1:$hport" --data-dir "$dir/data" --log-level warn "$@") \
		>"$dir/stdout.log" 2>"$dir/stderr.log" &
	pid=$!
	started+=("$pid")
}

# Node A runs the embedded NATS, listening so that node B can join it.
a_rtmp=$(free_port) a_http=$(free_port) nats_port=$(free_port)
node_env=("SHOAL_NODE_CLUSTER_EMBEDDED_ADDR=127.0.0.1:$nats_port")
start_node a "$a_rtmp" "$a_http"
node_env=()
a_pid=$pid
wait_healthy "$a_http"
b_rtmp=$(free_port) b_http=$(free_port)
start_node b "$b_rtmp" "$b_http" --nats-url "nats://127.0.0.1:$nats_port"
b_pid=$pid
wait_healthy "$b_http"
A=rtmp://127.0.0.1:$a_rtmp/sobench
B=rtmp://127.0.0.1:$b_rtmp/sobench
log "node a: $A (pid $a_pid, nats 127.0.0.1:$nats_port); node b: $B (pid $b_pid)"

tck=$(getconf CLK_TCK)
dur_s=$(awk -v d="$DURATION" 'BEGIN { sub(/s$/, "", d); print d + 0 }')
loads=()
jsonl=$tmp/runs.jsonl

# bench LABEL ARGS... runs one `shoal bench so`, bounded in time, and
# appends its report (with node CPU and the label) to $jsonl.
bench() {
	local label=$1 a0 b0 a1 b1 json=$tmp/run.json
	shift
	log "$label: shoal bench so $*"
	a0=$(cpu_ticks "$a_pid") b0=$(cpu_ticks "$b_pid")
	local t0=$EPOCHREALTIME
	timeout $((dur_s + 60)) "$SHOAL" bench so -duration "$DURATION" -encoding "$ENCODING" \
		-settle 20s -json -log-level warn "$@" >"$json" ||
		die "$label: shoal bench so failed"
	local t1=$EPOCHREALTIME
	kill -0 "$a_pid" 2>/dev/null || die "node a exited during $label"
	kill -0 "$b_pid" 2>/dev/null || die "node b exited during $label"
	a1=$(cpu_ticks "$a_pid") b1=$(cpu_ticks "$b_pid")
	jq -c --arg run "$label" \
		--argjson a_cpu "$(awk -v d=$((a1 - a0)) -v t="$tck" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", 100 * d / t / (e - s) }')" \
		--argjson b_cpu "$(awk -v d=$((b1 - b0)) -v t="$tck" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", 100 * d / t / (e - s) }')" \
		'. + {run: $run, node_a_cpu_percent: $a_cpu, node_b_cpu_percent: $b_cpu}' "$json" >>"$jsonl"
	jq -c '{run, sent, accepted, accepted_per_s, delivered_per_s, missing, complete,
		p50: .delivery_latency.p50_ms, p99: .delivery_latency.p99_ms, node_a_cpu_percent, node_b_cpu_percent,
		generator_cpu_percent, machine_cpu_percent, load_average}' \
		<(tail -1 "$jsonl") >&2
	loads+=("$(cut -d' ' -f1 /proc/loadavg)")
	sleep 1
}

uptime_before=$(uptime)
for rate in $RATES; do
	bench "same-node latency $rate/s" -writer "$A" -reader "$A" -rate "$rate"
	bench "cross-node latency $rate/s" -writer "$A" -reader "$B" -rate "$rate"
done
for inflight in $INFLIGHTS; do
	for n in $FANOUT; do
		bench "same-node max, 1 object, $n readers, in flight $inflight" \
			-writer "$A" -reader "$A" -max -readers "$n" -inflight "$inflight"
	done
	bench "same-node max, $OBJECTS objects, 1 reader, in flight $inflight" \
		-writer "$A" -reader "$A" -max -objects "$OBJECTS" -inflight "$inflight"
	bench "cross-node max, $OBJECTS objects, 1 reader, in flight $inflight" \
		-writer "$A" -reader "$B" -max -objects "$OBJECTS" -inflight "$inflight"
done
uptime_after=$(uptime)

nproc=$(nproc)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
gover=$(go version 2>/dev/null | awk '{print $3}')
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

mkdir -p "$(dirname "$OUT")"
{
	echo "### Run of $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- machine: $nproc CPUs ($cpu), $(uname -sr), nothing pinned; $gover; commit $rev"
	echo "- load before: ${uptime_before#*load average: }; after: ${uptime_after#*load average: }; 1-min load after each run: ${loads[*]}"
	echo "- two shoal-node processes (B joined A's embedded NATS), default configuration, transient objects, AMF$ENCODING;"
	echo "  the load generator (\`shoal bench so\`, window $DURATION) on the same machine over loopback"
	echo "- latency: from the writer's send to a reader's Change (one clock, one process); ack: send to Success"
	echo "- node CPU over the whole \`shoal bench so\` call; generator and machine CPU over the window (of $(nproc)00 %: what exceeds nodes + generator is other work)"
	echo
	echo "| run | sent/s | accepted/s | delivered/s (all readers) | missing | complete | latency p50 ms | p90 ms | p99 ms | max ms | ack p50 ms | ack p99 ms | node A CPU % | node B CPU % | generator CPU % | machine CPU % | lost connections |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	jq -r '[.run, (.sent_per_s | round), (.accepted_per_s | round), (.delivered_per_s | round), .missing,
		(if .complete then "yes" else "NO" end),
		(.delivery_latency | .p50_ms, .p90_ms, .p99_ms, .max_ms | . * 1000 | round / 1000),
		(.ack_latency | .p50_ms, .p99_ms | . * 1000 | round / 1000),
		.node_a_cpu_percent, .node_b_cpu_percent, (.generator_cpu_percent | round), (.machine_cpu_percent | round),
		(.lost // [] | length)] | map(tostring) | join(" | ") | "| " + . + " |"' "$jsonl"
	echo
	echo "Cross-node / same-node latency in this run:"
	echo
	echo "| rate/s | same-node p50 ms | cross-node p50 ms | ratio | same-node p99 ms | cross-node p99 ms | ratio |"
	echo "|---|---|---|---|---|---|---|"
	jq -rs 'map(select(.mode == "latency")) | group_by(.target_rate)[] |
		(map(select(.run | startswith("same"))) | first) as $s | (map(select(.run | startswith("cross"))) | first) as $c |
		select($s and $c) |
		[$s.target_rate, $s.delivery_latency.p50_ms, $c.delivery_latency.p50_ms,
		 ($c.delivery_latency.p50_ms / $s.delivery_latency.p50_ms),
		 $s.delivery_latency.p99_ms, $c.delivery_latency.p99_ms,
		 ($c.delivery_latency.p99_ms / $s.delivery_latency.p99_ms)] |
		map(. * 100 | round / 100 | tostring) | join(" | ") | "| " + . + " |"' "$jsonl"
} | tee "$OUT"
cp "$jsonl" "${OUT%.md}.jsonl"
log "written to $OUT and ${OUT%.md}.jsonl"

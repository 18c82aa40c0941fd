#!/usr/bin/env bash
# Fan-out benchmark: one RTMP publisher, N RTMP subscribers over loopback,
# against shoal-node and nginx-rtmp, with the same clip, the same load
# generator (shoal bench play) on the same machine in one run.
#
# Usage: bench/fanout.sh            (make bench-fanout builds first)
# Environment:
#   FANOUT_N="100 250 500"    subscriber counts
#   FANOUT_SERVERS="shoal nginx"
#   FANOUT_WINDOW=20s         measurement window per run (after the ramp)
#   FANOUT_RAMP=5s            subscribers start spread over this long
#   FANOUT_STALL=2s           silence after the first packet that is a stall
#   FANOUT_BITRATE=2500k      video bit rate of the clip (AAC adds 128k)
#   FANOUT_CLIP=path.flv      use this clip instead of making one
#   FANOUT_OUT=bench/results/fanout-<date>.md
#
# Server CPU is read from /proc/<pid>/stat (utime+stime) by the load
# generator at the start and end of its window, summed over the server's
# processes (nginx: master and workers). Nothing is pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

NS=${FANOUT_N:-100 250 500}
SERVERS=${FANOUT_SERVERS:-shoal nginx}
WINDOW=${FANOUT_WINDOW:-20s}
RAMP=${FANOUT_RAMP:-5s}
STALL=${FANOUT_STALL:-2s}
BITRATE=${FANOUT_BITRATE:-2500k}
NGINX=${NGINX:-/usr/sbin/nginx}
NGINX_RTMP_MODULE=${NGINX_RTMP_MODULE:-/usr/lib/nginx/modules/ngx_rtmp_module.so}
OUT=${FANOUT_OUT:-bench/results/fanout-$(date +%Y%m%d-%H%M%S).md}
SHOAL=bin/shoal
SHOAL_NODE=bin/shoal-node

die() { echo "fanout: $*" >&2; exit 1; }
log() { echo "fanout: $*" >&2; }

for f in "$SHOAL" "$SHOAL_NODE"; do
	[[ -x $f ]] || die "$f missing: run make build (make bench-fanout does)"
done
command -v jq >/dev/null || die "jq not installed"
command -v ss >/dev/null || die "ss (iproute2) not installed"
if [[ " $SERVERS " == *" nginx "* ]]; then
	[[ -x $NGINX ]] || die "$NGINX missing: install nginx and libnginx-mod-rtmp (scripts/test-deps.sh)"
	[[ -f $NGINX_RTMP_MODULE ]] || die "$NGINX_RTMP_MODULE missing: install libnginx-mod-rtmp"
fi
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d /tmp/shoal-fanout.XXXXXX)
started=() # pids to stop on exit

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port waits until something listens on port $1.
wait_port() {
	for _ in $(seq 100); do
		[[ -n $(ss -Htln "sport = :$1") ]] && return 0
		sleep 0.1
	done
	die "nothing listens on port $1 after 10s"
}

# start_shoal starts shoal-node on port $1 (in its own directory, so no
# shoal-node.yml is picked up) and sets pid.
start_shoal() {
	local port=$1 dir=$tmp/shoal hport
	hport=$(free_port)
	mkdir -p "$dir"
	(cd "$dir" && exec "$root/$SHOAL_NODE" --rtmp-addr "127.0.0.1:$port" --http-addr "127.0.0.1:$hport" \
		--data-dir "$dir" --log-level warn) >"$dir/stdout.log" 2>"$dir/stderr.log" &
	pid=$!
}

# start_nginx starts nginx-rtmp (one worker, live application "live") on
# port $1 and sets pid to the master's.
start_nginx() {
	local port=$1 dir=$tmp/nginx
	mkdir -p "$dir/logs"
	cat >"$dir/nginx.conf" <<-EOF
		load_module $NGINX_RTMP_MODULE;
		daemon off;
		master_process on;
		worker_processes 1;
		worker_rlimit_nofile 20000;
		pid $dir/nginx.pid;
		error_log $dir/logs/error.log warn;
		events {
		    worker_connections 10000;
		}
		rtmp {
		    server {
		        listen 127.0.0.1:$port;
		        chunk_size 4096;
		        application live {
		            live on;
		            record off;
		        }
		    }
		}
	EOF
	"$NGINX" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>"$dir/stderr.log" &
	pid=$!
}

# server_pids prints the pids of server $1 with main pid $2, comma-separated:
# shoal-node itself, or the nginx master and its workers.
server_pids() {
	local pids=$2
	if [[ $1 == nginx ]]; then
		for _ in $(seq 50); do
			[[ -n $(pgrep -P "$2") ]] && break
			sleep 0.1
		done
		pids+=",$(pgrep -P "$2" | paste -sd, -)"
	fi
	echo "$pids"
}

clip=${FANOUT_CLIP:-}
if [[ -z $clip ]]; then
	clip=$tmp/clip.flv
	log "making the clip (testsrc2 720p30, $BITRATE H.264 + 128k AAC, 20 s)"
	"$SHOAL" bench mkclip -out "$clip" -bitrate "$BITRATE" -duration 20s &
	started+=("$!")
	wait "$!" || die "making the clip failed"
	unset 'started[-1]'
fi

nproc=$(nproc)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
gover=$(go version 2>/dev/null | awk '{print $3}')
nginxver=$("$NGINX" -v 2>&1 | sed 's/.*version: nginx\///' || true)
clipkbps=$(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$clip" 2>/dev/null | awk '{printf "%d", $1/1000}' || true)

# Start every server with its own publisher, then measure them in turns
# for each N, so that other work on the machine weighs on all of them alike.
declare -A url_of pid_of pids_of
for server in $SERVERS; do
	port=$(free_port)
	case $server in
	shoal) start_shoal "$port" ;;
	nginx) start_nginx "$port" ;;
	*) die "unknown server $server (shoal or nginx)" ;;
	esac
	started+=("$pid")
	wait_port "$port"
	pid_of[$server]=$pid
	pids_of[$server]=$(server_pids "$server" "$pid")
	url_of[$server]=rtmp://127.0.0.1:$port/live/bench
	log "$server listening on 127.0.0.1:$port (pids ${pids_of[$server]})"

	"$SHOAL" bench publish -url "${url_of[$server]}" -file "$clip" -loop -log-level warn 2>"$tmp/publish-$server.log" &
	started+=("$!")
	# Probe until one player receives media: the publisher is on.
	ok=
	for _ in $(seq 20); do
		if "$SHOAL" bench play -url "${url_of[$server]}" -n 1 -duration 1s -ramp 0s -json -log-level warn 2>/dev/null |
			jq -e '.connected == 1 and .bitrate_p50_kbps > 0' >/dev/null; then
			ok=1
			break
		fi
		sleep 0.5
	done
	[[ -n $ok ]] || die "$server: no media on ${url_of[$server]} (publisher log: $(tail -3 "$tmp/publish-$server.log"))"
done

rows=()
for n in $NS; do
	for server in $SERVERS; do
		log "$server: $n subscribers, ramp $RAMP, window $WINDOW"
		json=$tmp/$server-$n.json
		# In the background so that a signal reaches the trap at once.
		"$SHOAL" bench play -url "${url_of[$server]}" -n "$n" -ramp "$RAMP" -duration "$WINDOW" -stall "$STALL" \
			-server-pids "${pids_of[$server]}" -json -log-level warn >"$json" &
		playpid=$!
		started+=("$playpid")
		wait "$playpid" || die "$server: shoal bench play failed with $n subscribers"
		unset 'started[-1]'
		kill -0 "${pid_of[$server]}" 2>/dev/null || die "$server exited during the run with $n subscribers"
		rows+=("$(jq -r --arg s "$server" '[
			$s, .sessions, .connected, .failed + .dropped, .stalled,
			(.bitrate_p50_kbps | floor), (.bitrate_p5_kbps | floor),
			(.server.cpu_percent | floor),
			(if .connected > 0 then (.server.cpu_seconds / .connected * 1000 | . * 10 | round / 10) else "-" end),
			(.server.rss_kb / 1024 | floor), (.server.hwm_kb / 1024 | floor),
			(.load_generator.cpu_percent | floor),
			(.server.cpu_percent + .load_generator.cpu_percent | floor),
			(.machine_cpu_percent | floor),
			([.errors[]? | "\(.count)× \(.error)"] | first // "")
		] | map(tostring) | join(" | ") | "| " + . + " |"' "$json")")
		jq -c '{sessions, connected, failed, dropped, stalled, worst_gap_s, bitrate_p50_kbps, bitrate_p5_kbps,
			server, load_generator, machine_cpu_percent}' "$json" >&2
		sleep 3 # let the sessions close
	done
done
if [[ -s $tmp/nginx/logs/error.log ]]; then
	log "nginx error log (last lines):"
	tail -5 "$tmp/nginx/logs/error.log" >&2
fi

mkdir -p "$(dirname "$OUT")"
{
	echo "## Fan-out (RTMP play), $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- machine: $nproc CPUs ($cpu), $(uname -sr), nothing pinned"
	echo "- $gover; nginx $nginxver with ngx_rtmp_module (Debian), 1 worker"
	echo "- clip: testsrc2 1280x720 30 fps, H.264 $BITRATE CBR, GOP 60, AAC 128k (${clipkbps:-?} kbit/s in total), looped by \`shoal bench publish\`"
	echo "- load: \`shoal bench play -n N -ramp $RAMP -duration $WINDOW -stall $STALL\` on the same machine over loopback"
	echo "- server CPU over the $WINDOW window after every subscriber connected (utime+stime from /proc, all server processes);"
	echo "  servers measured in turns for each N; machine CPU % is every process on the machine (of $((nproc * 100)) %), so what exceeds server + load generator is other work."
	echo "  Over loopback the kernel charges part of each TCP transfer to the sender and part to the receiver (ACK processing can push the sender's queued data), so server + load gen is the sturdier total"
	echo
	echo "| server | N | connected | failed+dropped | stalled | p50 kbit/s | p5 kbit/s | server CPU % | server CPU ms per subscriber over the window | RSS MB | peak RSS MB | load gen CPU % | server + load gen CPU % | machine CPU % | first error |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee "$OUT"
log "written to $OUT"

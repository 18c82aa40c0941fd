# Shared helpers of the benchmark scripts (sourced, not run). The caller
# defines die, sets tmp (a directory removed on exit) and started (pids
# stopped on exit), then calls `trap cleanup EXIT`.

# stop_pid stops process $1: TERM, then KILL after 5 s.
stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# cleanup stops every started process and removes tmp.
cleanup() {
	local pid
	for pid in "${started[@]}"; do stop_pid "$pid"; done
	started=()
	rm -rf "$tmp"
}

# free_port prints a TCP port nobody listens on.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if [[ -z $(ss -Htln "sport = :$p") ]]; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

#!/usr/bin/env bash
# Runs the local 3-node cluster of conf/node1.conf .. conf/node3.conf in the
# foreground (`make cluster` builds first, then calls this).
#
# Each node's log lines are prefixed with its name ([node1] ...). Ctrl-C (or
# SIGTERM, or any node exiting) stops all three and waits for them: no
# orphans. State is kept in data/node1..3 (the conf files' `dir`), so the
# nodes keep their ids and data from one run to the next; `rm -rf data` forgets
# them.
#
# Environment: BUILD_DIR (default build) holds shoal-server; SHOAL_SERVER
# overrides the binary; CLUSTER_NODES (default "node1 node2 node3") picks conf
# files conf/<name>.conf.

set -u

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

build_dir="${BUILD_DIR:-build}"
[[ "$build_dir" = /* ]] || build_dir="$root/$build_dir"
server="${SHOAL_SERVER:-$build_dir/shoal-server}"
names=(${CLUSTER_NODES:-node1 node2 node3})

if [[ ! -x "$server" ]]; then
  echo "cluster.sh: no server binary at $server (run make first)" >&2
  exit 1
fi
for name in "${names[@]}"; do
  if [[ ! -f "conf/$name.conf" ]]; then
    echo "cluster.sh: conf/$name.conf not found" >&2
    exit 1
  fi
done

pids=()
stopping=0

stop_all() {
  [[ $stopping -eq 1 ]] && return
  stopping=1
  trap '' INT TERM
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  # Each node shuts down cleanly on SIGTERM (log flushed); wait for all.
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  echo "cluster.sh: all nodes stopped" >&2
}

on_signal() {
  echo "cluster.sh: stopping ${names[*]}" >&2
  stop_all
  exit 130
}
trap on_signal INT TERM
trap stop_all EXIT

for name in "${names[@]}"; do
  mkdir -p "data/$name"
  # Process substitution keeps $! the server's pid (not the prefixing sed's);
  # sed -u passes each line on as soon as it is complete.
  "$server" "conf/$name.conf" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
  echo "cluster.sh: started $name (pid $!): $server conf/$name.conf" >&2
done

echo "cluster.sh: ${#pids[@]} nodes running; talk to any of them (redis-cli -p 7001," \
  "CLUSTER INFO); Ctrl-C stops all" >&2

# Wait until any node exits (crash, bad conf, SHUTDOWN), then stop the others.
wait -n "${pids[@]}"
code=$?
echo "cluster.sh: a node exited (status $code); stopping the others" >&2
stop_all
exit "$code"

# Helpers every part of bench/run uses: messages, the machine's facts, and
# wwctl with the bench project's settings.

say() {
    echo "==> $*" >&2
}

fail() {
    echo "error: $*" >&2
    exit 1
}

# Milliseconds since the epoch.
now_ms() {
    echo $(( $(date +%s%N) / 1000000 ))
}

# wwctl (the release build) with the bench project's environment.
bench_wwctl() {
    "$WWCTL_BIN" "$@"
}

# The one-minute load average.
load_average() {
    cut -d' ' -f1 /proc/loadavg
}

# One line describing the machine: cores, CPU model, memory.
machine_line() {
    local cores model memory
    cores=$(nproc)
    model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    memory=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "$cores cores, $model, $memory memory"
}

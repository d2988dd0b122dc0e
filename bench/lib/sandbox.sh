# The sandbox the benchmarks run on, and the bench's own account in it.
#
# With WWCTL_BENCH_SANDBOX_ENV (a file of `export WWCTL_TEST_...=` lines, as
# `scripts/sandbox-test-env start --lab` writes) the running sandbox is used
# and never stopped. Without it, a sandbox with lab hosts is started in
# /var/lib/wwctl/sandbox-bench and taken down again when bench/run exits;
# that is refused while any lab runs, because the lab's bridge can exist
# only once per machine.

OWN_SANDBOX_DIR=/var/lib/wwctl/sandbox-bench
started_sandbox=""

use_sandbox() {
    if [ -n "${WWCTL_BENCH_SANDBOX_ENV:-}" ]; then
        [ -r "$WWCTL_BENCH_SANDBOX_ENV" ] || fail "WWCTL_BENCH_SANDBOX_ENV names \`$WWCTL_BENCH_SANDBOX_ENV\`, which is not a readable file"
        # shellcheck disable=SC1090
        source "$WWCTL_BENCH_SANDBOX_ENV"
        [ -n "${WWCTL_TEST_SANDBOX_DIR:-}" ] || fail "$WWCTL_BENCH_SANDBOX_ENV sets no WWCTL_TEST_SANDBOX_DIR; the benchmarks need a sandbox with lab hosts (scripts/sandbox-test-env start --lab)"
        SANDBOX_DIR=$WWCTL_TEST_SANDBOX_DIR
        API_URL=$WWCTL_TEST_EMULATOR_URL
        DNS_SERVER=$WWCTL_TEST_DNS
        curl -sf "$API_URL/_sandbox/health" >/dev/null ||
            fail "the sandbox of $WWCTL_BENCH_SANDBOX_ENV does not answer at $API_URL/_sandbox/health"
        SANDBOX_ORIGIN="the running sandbox of $WWCTL_BENCH_SANDBOX_ENV"
        return
    fi

    if ip link show wwlab0 >/dev/null 2>&1; then
        fail "a lab already runs on this machine (bridge wwlab0 exists), and there can be only one; set WWCTL_BENCH_SANDBOX_ENV=/var/lib/wwctl/sandbox-test/test.env to benchmark on it, or stop it first"
    fi
    say "starting a sandbox with lab hosts in $OWN_SANDBOX_DIR"
    started_sandbox=$OWN_SANDBOX_DIR
    bench_wwctl sandbox --dir "$OWN_SANDBOX_DIR" up --time-scale 0.05 -q >/dev/null
    SANDBOX_DIR=$OWN_SANDBOX_DIR
    local env_json
    env_json=$(bench_wwctl sandbox --dir "$OWN_SANDBOX_DIR" env --output json)
    API_URL=$(json_field "$env_json" WWCTL_API_URL)
    DNS_SERVER=$(json_field "$env_json" WWCTL_DNS_SERVER)
    SANDBOX_ORIGIN="a sandbox bench/run started in $OWN_SANDBOX_DIR"
}

# Take down the sandbox this run started, and only that one.
stop_own_sandbox() {
    if [ -n "$started_sandbox" ]; then
        say "taking down the sandbox in $started_sandbox"
        bench_wwctl sandbox --dir "$started_sandbox" down -q || true
        started_sandbox=""
    fi
}

json_field() {
    python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# Call the emulator's API directly with the bench account's token.
api() {
    local method=$1 path=$2
    shift 2
    curl -sS -f -X "$method" -H "Authorization: Bearer $BENCH_TOKEN" \
        -H "Content-Type: application/json" "$@" "$API_URL$path"
}

# A new account with the lab's controller key as `wwdtm-ops`, a project
# folder with its own copy of the inventory (the zone renamed so nothing
# clashes with other users of the sandbox) and a state folder.
new_project() {
    local work=$1
    BENCH_TOKEN="sandbox-bench-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
    BENCH_ZONE="bench-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ').test"
    mkdir -p "$work"
    chmod 700 "$work"
    rm -rf "$work/inventory" "$work/state"
    cp -r "$ROOT/inventory" "$work/inventory"
    # Repository URLs keep their names; every other mention of the zone moves.
    find "$work/inventory" -type f -name '*.yaml' -exec \
        sed -i "/git:\/\/\|https:\/\//! s/wwdt\.me/$BENCH_ZONE/g" {} +
    api PUT /_sandbox/settings -d '{"rate_limit_per_minute": 1000}' >/dev/null
    local key
    key=$(cat "$SANDBOX_DIR/lab/keys/wwdtm-ops.pub")
    api POST /v2/account/keys -d "$(python3 -c 'import json, sys; print(json.dumps({"name": "wwdtm-ops", "public_key": sys.argv[1].strip()}))' "$key")" >/dev/null
    printf 'BENCH_TOKEN=%s\nBENCH_ZONE=%s\n' "$BENCH_TOKEN" "$BENCH_ZONE" >"$work/project.env"
    chmod 600 "$work/project.env"
}

# The environment `eval "$(wwctl sandbox env)"` would set, for the project.
export_project_env() {
    local work=$1
    export WWCTL_API_URL=$API_URL
    export DIGITALOCEAN_TOKEN=$BENCH_TOKEN
    export WWCTL_DNS_SERVER=$DNS_SERVER
    export WWCTL_OVERLAY=sandbox
    export WWCTL_SANDBOX_DIR=$SANDBOX_DIR
    export WWCTL_TIME_SCALE=0.05
    export WWCTL_SSH_IDENTITY=$SANDBOX_DIR/lab/keys/wwdtm-ops
    export WWCTL_CA_FILE=$SANDBOX_DIR/lab/ca/ca.crt
    export WWCTL_INVENTORY=$work/inventory
    export WWCTL_STATE_DIR=$work/state
}

# Sourced by .ci/schemathesis and .ci/client-walk: runs the roster binary
# ($bin) on a database for a script, with an admin token ($admin), and
# cleans up after it (the server, a PostgreSQL database made with
# `pg_database`, the work directory $work) on exit.

work="$(mktemp -d)"
server=""
pg_db=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    if [ -n "$pg_db" ]; then
        psql -q "$ROSTER_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

admin="ci-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

# Prints the URL of a fresh PostgreSQL database (one per script), made on
# the server of ROSTER_TEST_DATABASE_URL and dropped on exit.
pg_database() {
    pg_db="roster_ci_$$"
    psql -q "$ROSTER_TEST_DATABASE_URL" -c "CREATE DATABASE $pg_db" >/dev/null
    echo "${ROSTER_TEST_DATABASE_URL%/*}/$pg_db"
}

# Starts roster on database URL $1 and waits until it is ready; sets $base
# and $server.
start() {
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    base="http://127.0.0.1:$port"
    ROSTER_ADDR="127.0.0.1:$port" ROSTER_DATABASE_URL="$1" ROSTER_ADMIN_TOKEN="$admin" \
        ROSTER_LOG_FORMAT=text ROSTER_LOG=warn "$bin" serve >"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        curl -fsS "$base/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    cat "$work/server.log" >&2
    echo "roster did not start on $1" >&2
    exit 1
}

stop() {
    kill "$server"
    wait "$server" || true
    server=""
}

# A virtual environment under the target directory holding these pinned
# PyPI packages, made once; prints its path.
venv_with() {
    local venv="$target/ci-venv-$(echo "$*" | tr ' =' '-_')"
    if [ ! -x "$venv/bin/python" ] || [ ! -e "$venv/.installed" ]; then
        echo "installing $* into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
        touch "$venv/.installed"
    fi
    echo "$venv"
}

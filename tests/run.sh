#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root: installs what is missing (Dovecot,
# Postfix, Cyrus IMAP, PostgreSQL), makes sure PostgreSQL answers on 127.0.0.1:5432 with trust auth, and
# runs `cargo test`. The integration tests are one binary (tests/it/) that starts one throw-away
# mail stack (tests/mailstack.sh) on free ports for all its tests (a test that stops a server
# starts its own), and each PostgreSQL test creates and drops its own database.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'tests/run.sh: %s\n' "$*" >&2; }

command -v cargo >/dev/null || { log "cargo (Rust >= 1.95) is needed"; exit 1; }

# Dovecot and Postfix, installed without starting the system's own services (idempotent);
# Cyrus IMAP, the second IMAP server of tests/it/imap_servers.rs, beside them.
bash tests/mailstack.sh install
bash tests/cyrus.sh install

# The browser tests of the web workspace (tests/it/web.rs): Debian's chromium and chromedriver, and
# axe-core from npm for the accessibility checks (into a cache directory; KLACHTD_AXE points at it).
if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then
    log "installing chromium and chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }
fi
axe_dir=${XDG_CACHE_HOME:-$HOME/.cache}/klachtd-axe
export KLACHTD_AXE=$axe_dir/node_modules/axe-core/axe.min.js
if [ ! -f "$KLACHTD_AXE" ]; then
    if ! command -v npm >/dev/null; then
        log "installing npm"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends npm >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null; }
    fi
    log "installing axe-core into $axe_dir"
    mkdir -p "$axe_dir"
    (cd "$axe_dir" && npm install --silent --no-audit --no-fund --no-save axe-core@4 >/dev/null)
fi

# Python's icalendar from PyPI, the independent parser the hearing invitation is checked with
# (tests/it/hearing.rs), in a virtual environment in the cache (KLACHTD_PYTHON points at it).
ical_dir=${XDG_CACHE_HOME:-$HOME/.cache}/klachtd-icalendar
export KLACHTD_PYTHON=$ical_dir/bin/python3
if ! "$KLACHTD_PYTHON" -c 'import icalendar' 2>/dev/null; then
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends python3-venv >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }
    fi
    log "installing icalendar into $ical_dir"
    python3 -m venv "$ical_dir"
    "$ical_dir/bin/pip" install --quiet --disable-pip-version-check 'icalendar>=6' >/dev/null
fi

pg_answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if ! pg_answers; then
    if ! ls /etc/postgresql/*/main/pg_hba.conf >/dev/null 2>&1; then
        log "installing PostgreSQL"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
    fi
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    hba=/etc/postgresql/$version/main/pg_hba.conf
    # A test database server: trust connections from loopback, as the suite expects.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
    for _ in $(seq 50); do pg_answers && break; sleep 0.2; done
    pg_answers || { log "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }
fi

# The benchmark is run apart (it prints figures, it asserts nothing), but it must keep building.
cargo test --locked --benches --no-run

# Library, binary and integration tests (the crate has no doc tests): three binaries, the
# integration tests all in `it` (`cargo test --test it e2e::` runs one file's).
# The per-binary summaries are added up into one closing line.
log_file=$(mktemp)
trap 'rm -f "$log_file"' EXIT
set +e
cargo test --locked --lib --bins --tests "$@" 2>&1 | tee "$log_file"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\ntotal: %d passed, %d failed\n", p, f }' "$log_file"
exit "$status"

#!/usr/bin/env bash
# cyrus.sh - a throw-away Cyrus IMAP 3.6 (Debian's own build) for klachtd's tests: a second IMAP
# server besides Dovecot, configured as Debian ships it (personal namespace "INBOX." with "." as
# separator, altnamespace off), so folder handling that only works on Dovecot shows.
#
# Usage:
#   cyrus.sh install                          only install/unpack what is needed (idempotent)
#   cyrus.sh start DIR PORT [--owner-pid PID]  configure + start on 127.0.0.1:PORT
#   cyrus.sh stop DIR                          stop (idempotent)
#
# Debian's cyrus-imapd conflicts with dovecot-imapd (both provide imap-server), so the
# packages cyrus-common, cyrus-admin and sasl2-bin are installed, and imapd and idled are
# unpacked from cyrus-imapd's .deb (apt-get download) into /var/cache/klachtd-tests/cyrus.
# Accounts are made on demand: `cyrus.sh user DIR NAME PASSWORD` adds a SASL user (sasldb in DIR);
# its INBOX is created at first login (autocreate_quota). Plain-text LOGIN is allowed without
# TLS (loopback only). Everything else lives in DIR; the system's Cyrus is never started.
# Its imapd.conf and cyrus.conf are templates in tests/cyrus/ beside this script; `start` fills
# in their @DIR@, @BIN@ and @PORT@ placeholders and writes them to DIR.
set -euo pipefail

readonly BIN=/var/cache/klachtd-tests/cyrus/usr/lib/cyrus/bin
readonly PACKAGES=(cyrus-common cyrus-admin sasl2-bin)
TEMPLATES=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/cyrus
readonly TEMPLATES

log() { printf 'cyrus.sh: %s\n' "$*" >&2; }
die() { printf 'cyrus.sh: error: %s\n' "$*" >&2; exit 1; }

# render TEMPLATE NAME=VALUE...: prints a file of TEMPLATES with its @NAME@ filled in.
source "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/render.sh"

install() {
    if [[ -x $BIN/imapd && -x $BIN/idled && -x /usr/lib/cyrus/bin/master && -x /usr/sbin/saslpasswd2 ]]; then
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "installing Cyrus needs root"
    export DEBIAN_FRONTEND=noninteractive
    # Several test binaries may start at once; one of them installs.
    exec 9>/var/lock/klachtd-tests-cyrus.lock
    flock 9
    if [[ ! -x /usr/lib/cyrus/bin/master || ! -x /usr/sbin/saslpasswd2 ]]; then
        log "installing ${PACKAGES[*]} (one-off)"
        # policy-rc.d keeps the package scripts from starting the system's own Cyrus.
        local policy=/usr/sbin/policy-rc.d created_policy=
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
        fi
        apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null; } || {
            [[ -n $created_policy ]] && rm -f "$policy"
            die "apt-get install ${PACKAGES[*]} failed"
        }
        [[ -n $created_policy ]] && rm -f "$policy"
    fi
    if [[ ! -x $BIN/imapd ]]; then
        local tmp
        tmp=$(mktemp -d)
        (cd "$tmp" && apt-get download cyrus-imapd >/dev/null 2>&1) ||
            { apt-get update -qq && (cd "$tmp" && apt-get download cyrus-imapd >/dev/null); } || die "apt-get download cyrus-imapd failed"
        mkdir -p /var/cache/klachtd-tests/cyrus
        dpkg -x "$tmp"/cyrus-imapd_*.deb /var/cache/klachtd-tests/cyrus
        rm -rf "$tmp"
    fi
    [[ -x $BIN/imapd && -x $BIN/idled ]] || die "imapd/idled not found after unpacking"
}

pid_of() { [[ -f $1/master.pid ]] && kill -0 "$(cat "$1/master.pid")" 2>/dev/null && cat "$1/master.pid"; }

stop() {
    local dir=$1 pid
    pid=$(pid_of "$dir") || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

start() {
    local dir=$1 port=$2 owner=${3:-}
    install
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    stop "$dir"
    mkdir -p "$dir"/{config,spool,run/socket,run/proc,run/lock,log}
    render imapd.conf DIR="$dir" >"$dir/imapd.conf"
    render cyrus.conf DIR="$dir" BIN="$BIN" PORT="$port" >"$dir/cyrus.conf"
    chown -R cyrus:mail "$dir"
    # Cyrus drops to its own user; it must be able to reach DIR.
    local d=$dir
    while [[ $d != / ]]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
    /usr/lib/cyrus/bin/master -C "$dir/imapd.conf" -M "$dir/cyrus.conf" -p "$dir/master.pid" -d </dev/null >/dev/null 2>>"$dir/log/master.log" ||
        die "master failed to start, see $dir/log/master.log"
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "Cyrus does not answer on 127.0.0.1:$port; see $dir/log/master.log"
    if [[ -n $owner ]]; then
        # Stop Cyrus when the test process that started it is gone (by pid: DIR may be gone).
        local master
        master=$(cat "$dir/master.pid")
        (
            while kill -0 "$owner" 2>/dev/null; do sleep 1; done
            kill "$master" 2>/dev/null
        ) </dev/null >/dev/null 2>&1 &
        disown
    fi
}

user() {
    local dir=$1 name=$2 password=$3
    printf '%s' "$password" | saslpasswd2 -p -c -f "$dir/sasldb2" "$name"
    chown cyrus:mail "$dir/sasldb2"
}

case ${1:-} in
install) install ;;
start) [[ $# -ge 3 ]] || die "usage: cyrus.sh start DIR PORT [--owner-pid PID]"
    start "$2" "$3" "$([[ ${4:-} == --owner-pid ]] && echo "${5:-}")" ;;
stop) [[ $# -eq 2 ]] || die "usage: cyrus.sh stop DIR"; stop "$2" ;;
user) [[ $# -eq 4 ]] || die "usage: cyrus.sh user DIR NAME PASSWORD"; user "$2" "$3" "$4" ;;
*) sed -n '/^# Usage:/,/^# Debian/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac

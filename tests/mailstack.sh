#!/usr/bin/env bash
# mailstack.sh - a throw-away local mail stack for klachtd's tests and demo.
#
# Runs Debian's Dovecot (IMAP with IDLE/MOVE, plus LMTP) and Postfix (SMTP)
# as root on 127.0.0.1, with every config, certificate, queue, log and
# maildir inside one directory. The system's own Dovecot/Postfix services and
# their /etc configs are never used or touched; only packages get installed.
#
# Usage:
#   mailstack.sh install                       only install the packages (idempotent)
#   mailstack.sh start DIR [--owner-pid PID]   configure + start everything
#   mailstack.sh stop DIR                      stop everything (idempotent)
#   mailstack.sh stop-imap DIR | start-imap DIR   only Dovecot
#   mailstack.sh stop-smtp DIR | start-smtp DIR   only Postfix
#
# Environment (read by `start`; later commands reuse what start wrote):
#   KLACHTD_STACK_IMAP_PORT   plain IMAP, STARTTLS offered      (10143)
#   KLACHTD_STACK_IMAPS_PORT  IMAP over implicit TLS            (10993)
#   KLACHTD_STACK_SMTP_PORT   SMTP, STARTTLS + AUTH offered     (10025)
#   KLACHTD_STACK_PASSWORD    password valid for every account  (test-secret)
#   KLACHTD_STACK_OAUTH_INTROSPECTION_URL and KLACHTD_STACK_OAUTH_DOMAIN  (unset)
#       accounts in that domain log in to IMAP and SMTP with an OAuth token
#       only (SASL XOAUTH2/OAUTHBEARER; Dovecot checks each token at the URL,
#       RFC 7662, and wants {"active":true,"username":"<login>"}); their
#       password is refused, and Postfix takes mail from such an address only
#       after AUTH as it, over TLS. Other accounts are as without these.
#   KLACHTD_STACK_OAUTH_MECHANISMS  the token mechanisms offered  (xoauth2 oauthbearer)
#
# Any address is an account: log in to IMAP with the full address and the
# password; SMTP accepts any recipient from loopback (no AUTH needed) and
# delivers via LMTP into DIR/mail/<lower-cased address>/ (a Maildir), except
# in two domains: *@refused.test is refused for good (554), *@deferred.test
# for the moment (450); mail to *@outside.test is accepted and then dropped
# (as if relayed elsewhere).
#
# `start` writes DIR/env (export lines, also printed on stdout) with
# KLACHTD_STACK_{DIR,IMAP_PORT,IMAPS_PORT,SMTP_PORT,PASSWORD,CA}.
# `start` on a running DIR stops it first; mail and certificates in DIR are
# kept across restarts (use a fresh DIR for a clean state).
#
# Configs: templates in tests/mailstack/ beside this script, whose @NAME@
# placeholders `start` fills in (function render) before writing them to DIR:
# dovecot.conf and dovecot-auth.conf, both with dovecot-login.conf (accounts)
# and dovecot-passdb.conf in it (OAuth mode: dovecot-passdb-oauth.conf, plus
# dovecot-oauth2.conf.ext); postfix/main.cf (OAuth mode: main-oauth.cf
# appended) and postfix/master.cf; leaf.ext, the server certificate's
# extensions.
#
# Notes: runs as root. DIR must be at most 70 characters of [A-Za-z0-9._/+@-]
# and searchable by the postfix/mail users (start adds o+x to DIR and to its
# parents below /tmp). Maildirs belong to user "mail". Mailbox hierarchy
# separator is "/". Listens on 127.0.0.1 only (not ::1). No SMTPUTF8.
#
# Layout of DIR:
#   env                  export lines for tests
#   tls/                 ca.pem (trust anchor), server.pem/.key (leaf)
#   dovecot.conf         Dovecot for IMAP + LMTP;  dovecot.log its log
#   run/ state/          its base_dir (sockets, master.pid) and state_dir
#   dovecot-auth.conf    Dovecot for Postfix's SASL only (stays up during
#   run-auth/ state-auth/  stop-imap);  dovecot-auth.log its log
#   dovecot-oauth2.conf.ext  OAuth mode: both instances' oauth2 passdb settings
#   mail/ home/          maildirs and Dovecot home dirs, one per address
#   postfix/             Postfix config_directory (main.cf, master.cf,
#                        sender-logins in OAuth mode)
#   spool/ postfix-data/ Postfix queue_directory and data_directory
#   postfix.log          Postfix log (via postlogd, no syslog needed)
#   watcher.pid/.log     the --owner-pid watcher
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
readonly SELF
readonly TEMPLATES=${SELF%/*}/mailstack
readonly PACKAGES=(dovecot-imapd dovecot-lmtpd postfix openssl)
readonly POSTFIX_DAEMON_DIR=/usr/lib/postfix/sbin
readonly STOP_TIMEOUT_S=10
readonly START_TIMEOUT_S=15

log() { printf 'mailstack: %s\n' "$*" >&2; }
die() { printf 'mailstack: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '/^# Usage:/,/^# Environment/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- packages

have_packages() {
    [[ -x /usr/sbin/dovecot && -x /usr/lib/dovecot/imap && -x /usr/lib/dovecot/lmtp \
        && -x /usr/sbin/postfix && -x "$POSTFIX_DAEMON_DIR/master" \
        && -x /usr/bin/openssl ]]
}

# Installs the Debian packages if missing, without letting apt configure or
# start the system-wide services.
ensure_packages() {
    have_packages && return 0
    [[ $EUID -eq 0 ]] || die "packages ${PACKAGES[*]} are missing and installing them needs root"
    command -v apt-get >/dev/null || die "packages ${PACKAGES[*]} are missing and apt-get is not available"

    # Tests start several stacks in parallel; only one of them may run apt.
    local lockfd
    exec {lockfd}>/tmp/klachtd-mailstack-install.lock
    flock "$lockfd"
    if have_packages; then
        exec {lockfd}>&-
        return 0
    fi

    log "installing ${PACKAGES[*]} (one-off, ~30 s)"
    # "No configuration": postfix gets no /etc/postfix/main.cf, so the system
    # instance stays unconfigured and never conflicts with ours.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

    # policy-rc.d exiting 101 tells invoke-rc.d not to start the system
    # services from the maintainer scripts. Only remove it if we created it.
    local created_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# temporary, created by klachtd tests/mailstack.sh\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi

    local apt_log=/tmp/klachtd-mailstack-apt.log
    # --no-upgrade: never touch versions of packages already installed
    # (e.g. openssl), only add what is missing.
    local -a install=(apt-get install -y -q --no-install-recommends --no-upgrade
        -o DPkg::Lock::Timeout=120 "${PACKAGES[@]}")
    local ok=1
    if ! DEBIAN_FRONTEND=noninteractive "${install[@]}" >"$apt_log" 2>&1; then
        # Probably stale or missing package lists; refresh once and retry.
        log "apt-get install failed, running apt-get update and retrying"
        if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive "${install[@]}"; } \
            >>"$apt_log" 2>&1; then
            ok=0
        fi
    fi

    if ((created_policy)); then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    exec {lockfd}>&-
    ((ok)) || die "installing ${PACKAGES[*]} failed, see $apt_log"
    have_packages || die "installed ${PACKAGES[*]} but binaries are still missing, see $apt_log"
}

# ---------------------------------------------------------------- helpers

# Makes DIR absolute and rejects paths that cannot be written safely into the
# Dovecot/Postfix configs (whitespace, commas, quotes, $, % would be parsed).
resolve_dir() {
    local dir=$1
    [[ -n $dir ]] || die "DIR must not be empty"
    dir=$(cd -- "$dir" && pwd -P)
    [[ $dir =~ ^/[A-Za-z0-9._/+@-]*$ ]] ||
        die "DIR '$dir' contains characters that can't go into the server configs; use [A-Za-z0-9._/+@-] only"
    # Dovecot's unix sockets live in DIR/run*/ and DIR/spool/private/; a
    # sun_path holds 107 bytes, the longest is DIR/run-auth/replication-notify-fifo.
    ((${#dir} <= 70)) || die "DIR '$dir' is too long for unix socket paths (max 70 chars)"
    printf '%s\n' "$dir"
}

check_port() {
    local name=$1 value=$2
    if ! [[ $value =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
        die "$name='$value' is not a valid port number"
    fi
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints the pid stored in pid file $1 if that process is alive and its
# command name is $2 (guards against stale pid files and recycled pids).
live_pid() {
    local file=$1 comm=$2 pid
    [[ -r $file ]] || return 1
    { read -r pid <"$file"; } 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    proc_alive "$pid" || return 1
    [[ $(</proc/"$pid"/comm) == "$comm" ]] 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# Reads /proc/$1/stat into the caller's array `fields`, starting at field 3
# (state): fields[0]=state [1]=ppid [2]=pgrp [3]=session ... [19]=starttime.
read_proc_stat() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    # Drop "pid (comm) "; comm may contain spaces and parentheses.
    read -r -a fields <<<"${stat##*) }"
}

# True if process $1 exists and is not a zombie. Zombies hold no ports or
# files; PID 1 in containers is sometimes slow to reap them.
proc_alive() {
    local -a fields
    read_proc_stat "$1" && [[ ${fields[0]} != Z ]]
}

# Live (non-zombie) pids of all processes in session $1. Both servers'
# masters are session leaders, so this finds every worker they forked, even
# after the master itself is gone.
session_pids() {
    local sid=$1 f pid
    local -a fields
    for f in /proc/[0-9]*; do
        pid=${f#/proc/}
        read_proc_stat "$pid" || continue   # it just exited
        [[ ${fields[3]} == "$sid" && ${fields[0]} != Z ]] && printf '%s\n' "$pid"
    done
    return 0
}

# Stops the server whose master (a session leader) is $1 and waits until
# every process of its session is gone, SIGKILLing leftovers after
# STOP_TIMEOUT_S. With $3 = all, SIGTERM goes to every process at once
# (Dovecot: helpers orphaned by a dying master may linger for 30 s);
# otherwise only to the master, which shuts its children down in order.
terminate_tree() {
    local master=$1 what=$2 mode=${3:-master} i pids
    pids=$master
    [[ $mode == all ]] && pids=$(session_pids "$master")
    # shellcheck disable=SC2086  # word splitting of the pid list is intended
    kill -TERM $pids 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT_S * 20; i++)); do
        pids=$(session_pids "$master")
        [[ -z $pids ]] && return 0
        # Master gone for a second but children left: tell them directly.
        if ((i == 20)) && ! proc_alive "$master"; then
            # shellcheck disable=SC2086
            kill -TERM $pids 2>/dev/null || true
        fi
        sleep 0.05
    done
    pids=${pids//$'\n'/ }
    log "$what did not stop within ${STOP_TIMEOUT_S}s, killing: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        [[ -z $(session_pids "$master") ]] && return 0
        sleep 0.05
    done
    die "could not kill $what processes: $pids"
}

# Closes fds above 2 that a caller leaked to us (255 is bash's own script fd,
# close-on-exec anyway). Used in subshells right before exec'ing a server.
close_inherited_fds() {
    local fd
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        if ((fd > 2 && fd != 255)); then
            eval "exec ${fd}>&-" 2>/dev/null || true
        fi
    done
}

# Runs "$@" detached from our stdio. Dovecot and Postfix keep inherited fds
# open forever, and a test capturing our output would wait for EOF in vain;
# so stdin/stdout go to /dev/null, stderr to the log, other fds are closed.
run_detached() {
    local logfile=$1
    shift
    (
        close_inherited_fds
        exec "$@"
    ) </dev/null >/dev/null 2>>"$logfile"
}

# Postfix daemons run as user postfix and open files below DIR by absolute
# path (e.g. data_directory/master.lock), and Dovecot's mail processes run as
# user mail, so DIR and all its parents must be searchable by others.
# Temp dirs are usually 0700 (mktemp -d, tempfile::tempdir), so add the
# search bit (x, not r) to DIR and to parents below /tmp; anything else we
# leave alone and report.
ensure_traversable() {
    local dir=$1 d
    can_postfix_reach "$dir" && return 0
    d=$dir
    while [[ $d == /tmp/* ]]; do
        [[ -x $d && $(stat -c %A "$d") == d????????[xt] ]] || chmod o+x -- "$d"
        d=${d%/*}
    done
    [[ $(stat -c %A "$dir") == d????????[xt] ]] || chmod o+x -- "$dir"
    can_postfix_reach "$dir" && return 0
    # Name the first directory on the path that blocks them.
    local part
    local -a parts
    IFS=/ read -r -a parts <<<"${dir#/}"
    d=
    for part in "${parts[@]}"; do
        d=$d/$part
        can_postfix_reach "$d" || break
    done
    die "the postfix and mail users cannot reach $dir: $d is not searchable by others (chmod o+x it, or use a DIR under /tmp)"
}

can_postfix_reach() {
    setpriv --reuid=postfix --regid=postfix --clear-groups -- test -x "${1:-/}/."
}

wait_for_port() {
    local port=$1 what=$2 logfile=$3 i
    for ((i = 0; i < START_TIMEOUT_S * 20; i++)); do
        port_open "$port" && return 0
        sleep 0.05
    done
    die "$what is not answering on 127.0.0.1:$port after ${START_TIMEOUT_S}s; see $logfile"
}

# Loads the settings `start` saved, for the commands that reuse them.
load_env() {
    local dir=$1
    [[ -f $dir/env && -f $dir/dovecot.conf && -f $dir/dovecot-auth.conf && -f $dir/postfix/main.cf ]] ||
        die "$dir is not a configured mail stack; run '$0 start $dir' first"
    # shellcheck source=/dev/null
    source "$dir/env"
}

# ---------------------------------------------------------------- TLS

# A throw-away CA plus a leaf signed by it. rustls refuses a self-signed
# CA:TRUE certificate as a server certificate, hence the two levels.
# Existing certificates are kept, so clients that cached the CA keep working.
make_certs() {
    local tls=$1/tls
    [[ -s $tls/ca.pem && -s $tls/server.pem && -s $tls/server.key ]] && return 0
    mkdir -p "$tls"
    chmod 755 "$tls"
    local tmp
    tmp=$(mktemp -d "$tls/.gen.XXXXXX")
    (
        cd "$tmp"
        umask 077
        # EC P-256 keys: instant to generate, supported by rustls, OpenSSL, Python.
        openssl ecparam -name prime256v1 -genkey -noout -out ca.key
        openssl req -new -x509 -key ca.key -out ca.pem -days 3650 -sha256 \
            -subj "/CN=klachtd mailstack test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -addext "subjectKeyIdentifier=hash"
        openssl ecparam -name prime256v1 -genkey -noout -out server.key
        openssl req -new -key server.key -out server.csr -subj "/CN=localhost"
        render leaf.ext >leaf.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out server.pem -days 3650 -sha256 -extfile leaf.ext
        chmod 644 ca.pem server.pem
    ) >/dev/null 2>"$tls/openssl.log" || die "certificate generation failed, see $tls/openssl.log"
    mv -f "$tmp"/{ca.key,ca.pem,server.key,server.pem} "$tls/"
    rm -rf "$tmp"
}

# ---------------------------------------------------------------- configs

# render TEMPLATE NAME=VALUE...: prints a file of TEMPLATES with its @NAME@ filled in.
source "${SELF%/*}/render.sh"

oauth_enabled() { [[ -n ${KLACHTD_STACK_OAUTH_INTROSPECTION_URL:-} ]]; }

# Settings shared by both Dovecot instances: who may log in, and as whom
# (dovecot-login.conf with the passdbs of dovecot-passdb.conf or, in OAuth
# mode, dovecot-passdb-oauth.conf).
dovecot_auth_settings() {
    local dir=$1 pw=$2 mail_uid mail_gid passdbs
    if ! mail_uid=$(id -u mail) || ! mail_gid=$(id -g mail); then
        die "the standard user 'mail' does not exist"
    fi
    # Dovecot expands %-variables in settings; keep a literal % in the password.
    pw=${pw//%/%%}
    local mechanisms="plain login"
    if oauth_enabled; then
        mechanisms+=" $KLACHTD_STACK_OAUTH_MECHANISMS"
        passdbs=$(render dovecot-passdb-oauth.conf DIR="$dir" PASSWORD="$pw" \
            OAUTH_DOMAIN="$KLACHTD_STACK_OAUTH_DOMAIN" OAUTH_MECHANISMS="$KLACHTD_STACK_OAUTH_MECHANISMS") || exit
    else
        passdbs=$(render dovecot-passdb.conf PASSWORD="$pw") || exit
    fi
    render dovecot-login.conf DIR="$dir" AUTH_MECHANISMS="$mechanisms" PASSDBS="$passdbs" \
        MAIL_UID="$mail_uid" MAIL_GID="$mail_gid"
}

# Two Dovecot instances run per stack:
#  - dovecot.conf: IMAP, IMAPS and LMTP; this is what stop-imap/start-imap
#    stop and start;
#  - dovecot-auth.conf: only the SASL socket for Postfix. Postfix's smtpd
#    dies ("no SASL authentication mechanisms", then the service is
#    throttled) on every connection while that socket is unreachable, so it
#    must stay up while a test has "the IMAP server" down.
# In OAuth mode the oauth2 passdb reads its settings from
# dovecot-oauth2.conf.ext.
write_dovecot_conf() {
    local dir=$1 pw=$2 id auth
    id=$(printf '%s' "$dir" | md5sum | cut -c1-12)
    auth=$(dovecot_auth_settings "$dir" "$pw")
    if oauth_enabled; then
        render dovecot-oauth2.conf.ext INTROSPECTION_URL="$KLACHTD_STACK_OAUTH_INTROSPECTION_URL" \
            >"$dir/dovecot-oauth2.conf.ext"
    fi
    render dovecot.conf DIR="$dir" ID="$id" AUTH_SETTINGS="$auth" \
        IMAP_PORT="$KLACHTD_STACK_IMAP_PORT" IMAPS_PORT="$KLACHTD_STACK_IMAPS_PORT" \
        >"$dir/dovecot.conf"
    render dovecot-auth.conf DIR="$dir" ID="$id" AUTH_SETTINGS="$auth" >"$dir/dovecot-auth.conf"
}

write_postfix_conf() {
    local dir=$1 pdir=$1/postfix tls_auth_only=no
    # OAuth mode: tokens only over TLS.
    oauth_enabled && tls_auth_only=yes
    mkdir -p "$pdir"
    render main.cf DIR="$dir" TLS_AUTH_ONLY="$tls_auth_only" >"$pdir/main.cf"
    if oauth_enabled; then
        # Mail from the token-only domain needs AUTH as its sender.
        local domain_re=${KLACHTD_STACK_OAUTH_DOMAIN//./\\.}
        printf '/^(.+@%s)$/ ${1}\n' "$domain_re" >"$pdir/sender-logins"
        render main-oauth.cf DIR="$dir" >>"$pdir/main.cf"
    fi
    render master.cf SMTP_PORT="$KLACHTD_STACK_SMTP_PORT" >"$pdir/master.cf"
    # Postfix distrusts config files modified within the last second and
    # waits for them to age; backdate them so start is instant.
    touch -d '-5 seconds' "$pdir/main.cf" "$pdir/master.cf"
}

write_env() {
    local dir=$1
    {
        printf 'export KLACHTD_STACK_DIR=%q\n' "$dir"
        printf 'export KLACHTD_STACK_IMAP_PORT=%q\n' "$KLACHTD_STACK_IMAP_PORT"
        printf 'export KLACHTD_STACK_IMAPS_PORT=%q\n' "$KLACHTD_STACK_IMAPS_PORT"
        printf 'export KLACHTD_STACK_SMTP_PORT=%q\n' "$KLACHTD_STACK_SMTP_PORT"
        printf 'export KLACHTD_STACK_PASSWORD=%q\n' "$KLACHTD_STACK_PASSWORD"
        printf 'export KLACHTD_STACK_CA=%q\n' "$dir/tls/ca.pem"
    } >"$dir/env.tmp"
    mv -f "$dir/env.tmp" "$dir/env"
}

# ---------------------------------------------------------------- servers

dovecot_pid() { live_pid "$1/run/master.pid" dovecot; }
dovecot_auth_pid() { live_pid "$1/run-auth/master.pid" dovecot; }
postfix_pid() { live_pid "$1/spool/pid/master.pid" master; }

# Finds a master of DIR's stack without pid files, by its command line
# (Dovecot: "dovecot -c DIR/<$2>") or environment (Postfix: MAIL_CONFIG=
# DIR/postfix, $2 = postfix). For `stop` after DIR was deleted under running
# servers, e.g. a test's temp dir cleaned up before its process exited.
scan_master() {
    local dir=$1 what=$2 f pid
    local -a fields args envs
    for f in /proc/[0-9]*; do
        pid=${f#/proc/}
        read_proc_stat "$pid" || continue
        # Both masters are session leaders; skip everything else cheaply.
        [[ ${fields[3]} == "$pid" && ${fields[0]} != Z ]] || continue
        mapfile -d '' -t args <"$f/cmdline" 2>/dev/null || continue
        if [[ $what == postfix ]]; then
            [[ ${args[0]:-} == "$POSTFIX_DAEMON_DIR/master" ]] || continue
            mapfile -d '' -t envs <"$f/environ" 2>/dev/null || continue
            [[ " ${envs[*]} " == *" MAIL_CONFIG=$dir/postfix "* ]] || continue
        else
            [[ ${args[0]:-} == /usr/sbin/dovecot && ${args[1]:-} == -c &&
                ${args[2]:-} == "$dir/$what" ]] || continue
        fi
        printf '%s\n' "$pid"
        return 0
    done
    return 1
}

# Creates the directories both servers need. spool/private is Postfix's
# (owner postfix, 0700, as its postfix-files says), created here already
# because Dovecot puts its sockets for Postfix in there.
make_dirs() {
    local dir=$1
    mkdir -p "$dir/spool" "$dir/mail" "$dir/home"
    [[ -d $dir/spool/private ]] || install -d -o postfix -m 0700 "$dir/spool/private"
    # Dovecot creates per-address dirs in there as the mail user.
    chown mail:mail "$dir/mail" "$dir/home"
}

# Starts the Dovecot instance for config file $2 whose base_dir is $3.
run_dovecot() {
    local dir=$1 conf=$2 base=$3 logfile=$4
    # base_dir holds only runtime state. Start from an empty one: a stale
    # socket (e.g. anvil-auth-penalty) would make processes retry connecting
    # to it for seconds instead of failing fast.
    rm -rf "$base"
    mkdir -p "$base"
    # dovecot forks into the background (as a session leader) and returns
    # once its listeners are bound, or fails with a message in the log.
    run_detached "$logfile" /usr/sbin/dovecot -c "$conf" ||
        die "Dovecot ($conf) failed to start; see $logfile"
}

start_dovecot_auth() {
    local dir=$1
    dovecot_auth_pid "$dir" >/dev/null && return 0
    make_dirs "$dir"
    mkdir -p "$dir/state-auth"
    run_dovecot "$dir" "$dir/dovecot-auth.conf" "$dir/run-auth" "$dir/dovecot-auth.log"
}

start_dovecot() {
    local dir=$1
    dovecot_pid "$dir" >/dev/null && die "Dovecot is already running for $dir"
    port_open "$KLACHTD_STACK_IMAP_PORT" &&
        die "port $KLACHTD_STACK_IMAP_PORT (IMAP) is already in use"
    port_open "$KLACHTD_STACK_IMAPS_PORT" &&
        die "port $KLACHTD_STACK_IMAPS_PORT (IMAPS) is already in use"
    make_dirs "$dir"
    mkdir -p "$dir/state"
    run_dovecot "$dir" "$dir/dovecot.conf" "$dir/run" "$dir/dovecot.log"
    wait_for_port "$KLACHTD_STACK_IMAP_PORT" "Dovecot IMAP" "$dir/dovecot.log"
    wait_for_port "$KLACHTD_STACK_IMAPS_PORT" "Dovecot IMAPS" "$dir/dovecot.log"
}

start_postfix() {
    local dir=$1
    postfix_pid "$dir" >/dev/null && die "Postfix is already running for $dir"
    port_open "$KLACHTD_STACK_SMTP_PORT" &&
        die "port $KLACHTD_STACK_SMTP_PORT (SMTP) is already in use"
    # The queue directory itself must exist; postfix creates what is inside
    # (and the data directory, which must belong to the postfix user).
    mkdir -p "$dir/spool"
    # "postfix start" runs its integrity checks, creates the queue
    # directories and waits (master -w) until the master is initialised.
    # Once an earlier start has set the queue up, the checks only cost time
    # (~0.25 s); a quick-start file makes postfix-script skip them once.
    if [[ -d $dir/spool/pid && -d $dir/spool/private && -d $dir/postfix-data ]]; then
        : >"$dir/spool/quick-start"
    fi
    if ! run_detached "$dir/postfix.log" /usr/sbin/postfix -c "$dir/postfix" start; then
        # postfix prints fatal errors only to a tty or syslog; re-run the
        # check on a pseudo-tty so the reason lands in the log.
        {
            echo "--- postfix check (run by mailstack.sh after a failed start) ---"
            script -qec "/usr/sbin/postfix -c '$dir/postfix' check" /dev/null </dev/null || true
        } >>"$dir/postfix.log" 2>&1
        die "Postfix failed to start; see $dir/postfix.log"
    fi
    wait_for_port "$KLACHTD_STACK_SMTP_PORT" "Postfix SMTP" "$dir/postfix.log"
}

stop_dovecot() {
    local dir=$1 pid
    pid=$(dovecot_pid "$dir") || pid=$(scan_master "$dir" dovecot.conf) || return 0
    terminate_tree "$pid" "Dovecot" all
}

stop_dovecot_auth() {
    local dir=$1 pid
    pid=$(dovecot_auth_pid "$dir") || pid=$(scan_master "$dir" dovecot-auth.conf) || return 0
    terminate_tree "$pid" "Dovecot (auth)" all
}

stop_postfix() {
    local dir=$1 pid
    pid=$(postfix_pid "$dir") || pid=$(scan_master "$dir" postfix) || return 0
    terminate_tree "$pid" "Postfix"
}

# ---------------------------------------------------------------- watcher

proc_starttime() {
    local -a fields
    read_proc_stat "$1" || return 1
    printf '%s\n' "${fields[19]}"
}

# watcher.pid holds "PID STARTTIME"; the start time (which exec does not
# change) tells our watcher apart from a process that recycled its pid.
watcher_pid() {
    local dir=$1 pid st cur
    [[ -r $dir/watcher.pid ]] || return 1
    read -r pid st <"$dir/watcher.pid" || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cur=$(proc_starttime "$pid") || return 1
    [[ $cur == "$st" ]] || return 1
    printf '%s\n' "$pid"
}

stop_watcher() {
    local dir=$1 pid
    if pid=$(watcher_pid "$dir"); then
        kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/watcher.pid"
}

start_watcher() {
    local dir=$1 owner=$2 st pid
    st=$(proc_starttime "$owner") || die "--owner-pid $owner: no such process"
    # Background job + setsid: its own session, so it survives the caller's
    # process group being killed; no job control here, so setsid does not
    # fork and $! is the watcher's pid. The pid file is written before we
    # return, so an immediate `stop` finds and kills the watcher.
    (
        close_inherited_fds
        exec setsid "$SELF" _watch "$dir" "$owner" "$st"
    ) </dev/null >/dev/null 2>>"$dir/watcher.log" &
    pid=$!
    echo "$pid $(proc_starttime "$pid")" >"$dir/watcher.pid"
}

# Hidden command run by the watcher: polls until the owner is gone (pid gone
# or recycled, detected by its start time), then stops the stack.
cmd_watch() {
    local dir=$1 owner=$2 st=$3 cur
    # A zombie owner counts as gone: it has exited, its parent just hasn't
    # reaped it yet.
    while proc_alive "$owner" && cur=$(proc_starttime "$owner") && [[ $cur == "$st" ]]; do
        sleep 0.5
    done
    log "$(date '+%F %T') owner pid $owner is gone, stopping the stack in $dir"
    rm -f "$dir/watcher.pid"
    exec "$SELF" stop "$dir"
}

# ---------------------------------------------------------------- commands

cmd_start() {
    local dir=$1 owner=$2
    : "${KLACHTD_STACK_IMAP_PORT:=10143}" "${KLACHTD_STACK_IMAPS_PORT:=10993}"
    : "${KLACHTD_STACK_SMTP_PORT:=10025}" "${KLACHTD_STACK_PASSWORD:=test-secret}"
    check_port KLACHTD_STACK_IMAP_PORT "$KLACHTD_STACK_IMAP_PORT"
    check_port KLACHTD_STACK_IMAPS_PORT "$KLACHTD_STACK_IMAPS_PORT"
    check_port KLACHTD_STACK_SMTP_PORT "$KLACHTD_STACK_SMTP_PORT"
    [[ $KLACHTD_STACK_IMAP_PORT != "$KLACHTD_STACK_IMAPS_PORT" &&
        $KLACHTD_STACK_IMAP_PORT != "$KLACHTD_STACK_SMTP_PORT" &&
        $KLACHTD_STACK_IMAPS_PORT != "$KLACHTD_STACK_SMTP_PORT" ]] ||
        die "IMAP, IMAPS and SMTP ports must differ"
    [[ -n $KLACHTD_STACK_PASSWORD && $KLACHTD_STACK_PASSWORD =~ ^[[:graph:]]+$ ]] ||
        die "KLACHTD_STACK_PASSWORD must be non-empty printable ASCII without spaces"
    if [[ -n $owner ]]; then
        [[ $owner =~ ^[0-9]+$ && -d /proc/$owner ]] || die "--owner-pid $owner: no such process"
    fi

    ensure_packages

    if dovecot_pid "$dir" >/dev/null || dovecot_auth_pid "$dir" >/dev/null ||
        postfix_pid "$dir" >/dev/null || watcher_pid "$dir" >/dev/null; then
        log "a stack is already running in $dir; stopping it first"
        cmd_stop "$dir"
    fi

    ensure_traversable "$dir"
    # Fail before starting anything if a port is taken (e.g. by another stack).
    local port
    for port in "$KLACHTD_STACK_IMAP_PORT" "$KLACHTD_STACK_IMAPS_PORT" "$KLACHTD_STACK_SMTP_PORT"; do
        port_open "$port" && die "port $port on 127.0.0.1 is already in use"
    done
    make_certs "$dir"
    if oauth_enabled; then
        [[ ${KLACHTD_STACK_OAUTH_DOMAIN:-} =~ ^[a-z0-9.-]+$ ]] ||
            die "KLACHTD_STACK_OAUTH_DOMAIN must be set to a lower-case domain with KLACHTD_STACK_OAUTH_INTROSPECTION_URL"
        : "${KLACHTD_STACK_OAUTH_MECHANISMS:=xoauth2 oauthbearer}"
        [[ $KLACHTD_STACK_OAUTH_MECHANISMS =~ ^[a-z0-9\ ]+$ ]] || die "KLACHTD_STACK_OAUTH_MECHANISMS: mechanism names only"
    fi
    write_dovecot_conf "$dir" "$KLACHTD_STACK_PASSWORD"
    write_postfix_conf "$dir"
    # Don't leave half a stack behind if anything below fails (die exits).
    # shellcheck disable=SC2064  # expand $dir now
    trap "cmd_stop '$dir' || true" EXIT
    # Dovecot first: smtpd needs the SASL socket from its first connection
    # on (our own readiness probe included).
    start_dovecot_auth "$dir"
    start_dovecot "$dir"
    start_postfix "$dir"
    trap - EXIT
    write_env "$dir"
    [[ -n $owner ]] && start_watcher "$dir" "$owner"
    cat "$dir/env"
}

cmd_stop() {
    local dir=$1
    stop_watcher "$dir"
    stop_postfix "$dir"
    stop_dovecot "$dir"
    stop_dovecot_auth "$dir"
}

main() {
    if [[ ${1-} == install ]]; then
        ensure_packages
        return
    fi
    (($# >= 2)) || usage
    local cmd=$1 dir
    shift
    if [[ $cmd == _watch ]]; then
        cmd_watch "$@"
        return
    fi
    dir=$1
    shift
    if [[ ! -d $dir ]]; then
        case $cmd in
        start) mkdir -p -- "$dir" ;;
        stop | stop-imap | stop-smtp)
            # Deleted under running servers? Find them by their command line.
            [[ $dir == /* ]] || dir=$PWD/$dir
            case $cmd in
            stop-imap) stop_dovecot "$dir" ;;
            stop-smtp) stop_postfix "$dir" ;;
            stop)
                stop_postfix "$dir"
                stop_dovecot "$dir"
                stop_dovecot_auth "$dir"
                ;;
            esac
            return 0
            ;;
        *) die "$dir does not exist; run '$0 start $dir' first" ;;
        esac
    fi
    dir=$(resolve_dir "$dir")
    case $cmd in
    start)
        local owner=
        while (($#)); do
            case $1 in
            --owner-pid)
                (($# >= 2)) || die "--owner-pid needs a PID"
                owner=$2
                shift 2
                ;;
            --owner-pid=*)
                owner=${1#*=}
                shift
                ;;
            *) die "unknown option '$1'" ;;
            esac
        done
        cmd_start "$dir" "$owner"
        ;;
    stop | stop-imap | stop-smtp | start-imap | start-smtp)
        (($# == 0)) || die "unexpected arguments: $*"
        case $cmd in
        stop) cmd_stop "$dir" ;;
        stop-imap) stop_dovecot "$dir" ;;
        stop-smtp) stop_postfix "$dir" ;;
        start-imap)
            load_env "$dir"
            start_dovecot_auth "$dir" # normally still running
            start_dovecot "$dir"
            # Deliver mail deferred while Dovecot was down now rather than at
            # the next retry (up to maximal_backoff_time later).
            if postfix_pid "$dir" >/dev/null; then
                run_detached "$dir/postfix.log" /usr/sbin/postfix -c "$dir/postfix" flush ||
                    log "postfix flush failed (deferred mail will be retried anyway)"
            fi
            ;;
        start-smtp)
            load_env "$dir"
            start_dovecot_auth "$dir" # normally still running
            start_postfix "$dir"
            ;;
        esac
        ;;
    *) usage ;;
    esac
}

# On one line so bash has parsed it completely before running main: bash reads
# scripts incrementally, and the file might be replaced while we run.
main "$@"; exit

#!/usr/bin/env bash
# Demo: klachtd on its embedded default (SQLite) against a local mail stack. Sends a sample
# complaint, shows it becoming a case and the acknowledgement arriving in the complainant's
# mailbox. With --keep the daemon keeps running in the foreground (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
demo=${KLACHTD_DEMO_DIR:-/tmp/klachtd-demo}
keep=0
[[ ${1-} == --keep ]] && keep=1

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building klachtd"
cargo build --locked --quiet
bin=$root/target/debug/klachtd

say "starting the mail stack (Dovecot + Postfix on 127.0.0.1) in $demo/stack"
mkdir -p "$demo"
export KLACHTD_STACK_IMAP_PORT=${KLACHTD_STACK_IMAP_PORT:-10143}
export KLACHTD_STACK_SMTP_PORT=${KLACHTD_STACK_SMTP_PORT:-10025}
bash tests/mailstack.sh start "$demo/stack" --owner-pid $$ >/dev/null
# shellcheck disable=SC1091
source "$demo/stack/env"

complaints=klachten@klacht.test
alice=alice@example.test
rm -rf "$demo/data"
cat >"$demo/klachtd.toml" <<TOML
[organisation]
name = "Re-integratiedienst Demo"
complaints_address = "$complaints"
regulation_url = "https://www.example.nl/klachtenregeling"

[database]
url = "sqlite://$demo/data/klachtd.db"

[storage]
data_dir = "$demo/data"

[templates]
dir = "$root/templates"
language = "nl"

[imap]
host = "127.0.0.1"
port = $KLACHTD_STACK_IMAP_PORT
tls = "none"
user = "$complaints"
password_env = "KLACHTD_STACK_PASSWORD"

[smtp]
host = "127.0.0.1"
port = $KLACHTD_STACK_SMTP_PORT
tls = "none"

[outbox]
poll_interval_secs = 2
TOML
export KLACHTD_CONFIG=$demo/klachtd.toml

say "klachtd check-config"
"$bin" check-config

say "starting klachtd (log: $demo/klachtd.log)"
"$bin" run 2>"$demo/klachtd.log" &
daemon=$!
cleanup() {
    kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    bash tests/mailstack.sh stop "$demo/stack" || true
}
trap cleanup EXIT
for _ in $(seq 100); do grep -q "mailbox connected" "$demo/klachtd.log" && break; sleep 0.1; done

say "Alice e-mails a complaint to $complaints"
smtp() {
    exec 3<>"/dev/tcp/127.0.0.1/$KLACHTD_STACK_SMTP_PORT"
    expect() { local line; while IFS= read -r line <&3; do [[ $line =~ ^[0-9]{3}\  ]] && break; done; }
    expect
    for cmd in "EHLO demo.example.test" "MAIL FROM:<$alice>" "RCPT TO:<$complaints>" "DATA"; do
        printf '%s\r\n' "$cmd" >&3
        expect
    done
    sed 's/$/\r/' >&3
    printf '.\r\n' >&3
    expect
    printf 'QUIT\r\n' >&3
    exec 3>&-
}
smtp <<MAIL
From: Alice de Vries <$alice>
To: Klachten <$complaints>
Subject: Mijn coach komt afspraken niet na
Message-ID: <demo-$(date +%s)@example.test>
Date: $(date -R)
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Beste klachtenbehandelaar,

Drie keer is mijn afspraak met mijn re-integratiecoach niet doorgegaan,
zonder dat ik bericht kreeg.

Met vriendelijke groet,
Alice de Vries
MAIL

say "waiting for the case and the acknowledgement"
maildir=$KLACHTD_STACK_DIR/mail/$alice
for _ in $(seq 150); do
    compgen -G "$maildir/new/*" >/dev/null && break
    sleep 0.2
done

say "klachtd cases list"
"$bin" cases list

say "the acknowledgement in Alice's mailbox"
ack=$(compgen -G "$maildir/new/*" | head -n 1 || true)
if [[ -z $ack ]]; then
    echo "no acknowledgement arrived; see $demo/klachtd.log" >&2
    exit 1
fi
grep -E '^(From|To|Subject|Auto-Submitted|In-Reply-To):' "$ack"
echo
# The body is quoted-printable; perl's core MIME::QuotedPrint decodes it.
sed '1,/^\r\?$/d' "$ack" | tr -d '\r' | perl -MMIME::QuotedPrint -0777 -ne 'print decode_qp($_)' 

if ((keep)); then
    say "klachtd keeps running; send mail to $complaints on 127.0.0.1:$KLACHTD_STACK_SMTP_PORT. Ctrl-C stops."
    tail -f "$demo/klachtd.log" &
    wait "$daemon"
fi

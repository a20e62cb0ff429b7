#!/usr/bin/env bash
# Installs klachtd as a systemd service (run as root from the project directory):
#   /usr/local/bin/klachtd                 the binary (built here unless BIN=path is given)
#   /etc/klachtd/klachtd.toml              configuration (kept if it exists)
#   /etc/klachtd/{imap,smtp}-password      passwords, handed to the service as credentials
#   /etc/klachtd/actions-secret            key of the reply tokens (actions by mail), root:klachtd 0640
#   /usr/share/klachtd/templates           the shipped letters, to copy from
#   /etc/klachtd/templates/{nl,en}         your own versions, file by file (templates.dir; kept)
#   /etc/systemd/system/klachtd.service    the unit; runs as user klachtd, state in /var/lib/klachtd
#   /usr/share/man/man1/klachtd*.1         manual pages, klachtd(1) and one per command
#   /usr/share/bash-completion/completions/klachtd, /usr/share/zsh/vendor-completions/_klachtd,
#   /usr/share/fish/vendor_completions.d/klachtd.fish   shell completions
# Upgrading is running this again: the binary and unit are replaced, the configuration is
# kept, and the new binary applies database migrations when it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "install.sh: run as root" >&2; exit 1; }
prefix=${DESTDIR:-}

# sudo's PATH usually lacks ~/.cargo/bin: build as the invoking user, or use BIN=path.
bin=${BIN:-}
if [[ -z $bin ]]; then
    if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
        sudo -u "$SUDO_USER" -H bash -lc 'cd "$0" && PATH="$HOME/.cargo/bin:$PATH" cargo build --release --locked' "$PWD"
    elif command -v cargo >/dev/null || [[ -x $HOME/.cargo/bin/cargo ]]; then
        PATH="$HOME/.cargo/bin:$PATH" cargo build --release --locked
    else
        echo "install.sh: cargo not found; build first (cargo build --release) and run: sudo BIN=target/release/klachtd bash systemd/install.sh" >&2
        exit 1
    fi
    bin=target/release/klachtd
fi
[[ -x $bin ]] || { echo "install.sh: $bin is not an executable" >&2; exit 1; }

install -D -m 0755 "$bin" "$prefix/usr/local/bin/klachtd"
# Completions and manual pages come from the binary's own command line, so they match it.
"$bin" completions bash | install -D -m 0644 /dev/stdin "$prefix/usr/share/bash-completion/completions/klachtd"
"$bin" completions zsh | install -D -m 0644 /dev/stdin "$prefix/usr/share/zsh/vendor-completions/_klachtd"
"$bin" completions fish | install -D -m 0644 /dev/stdin "$prefix/usr/share/fish/vendor_completions.d/klachtd.fish"
man_pages=$(mktemp -d)
trap 'rm -rf "$man_pages"' EXIT
"$bin" man --dir "$man_pages"
install -d -m 0755 "$prefix/usr/share/man/man1"
rm -f "$prefix"/usr/share/man/man1/klachtd-*.1 # the pages of commands an upgrade removed
install -m 0644 "$man_pages"/*.1 "$prefix/usr/share/man/man1/"
# The service's own system user; systemd creates /var/lib/klachtd for it (StateDirectory=).
if [[ -z $prefix ]] && ! getent passwd klachtd >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/klachtd --no-create-home --shell /usr/sbin/nologin klachtd
fi
install -d -m 0755 "$prefix/usr/share/klachtd/templates" "$prefix/usr/share/doc/klachtd"
cp -R templates/. "$prefix/usr/share/klachtd/templates/"
install -m 0644 README.md "$prefix/usr/share/doc/klachtd/README.md"
install -m 0644 config/klachtd.example.toml "$prefix/usr/share/doc/klachtd/klachtd.example.toml"

install -d -m 0755 "$prefix/etc/klachtd" "$prefix/etc/klachtd/templates/nl" "$prefix/etc/klachtd/templates/en"
if [[ ! -e $prefix/etc/klachtd/klachtd.toml ]]; then
    # The configuration is world-readable and holds no secrets; the passwords reach the
    # service as systemd credentials, which the command line's case commands do not need.
    sed -e 's|^password_file = .*|password_file = "/run/credentials/klachtd.service/imap-password"|' \
        -e 's|^password_env = "KLACHTD_SMTP_PASSWORD"|password_file = "/run/credentials/klachtd.service/smtp-password"|' \
        -e 's|^# dir = "/etc/klachtd/templates"|dir = "/etc/klachtd/templates"|' \
        config/klachtd.example.toml >"$prefix/etc/klachtd/klachtd.toml"
    chmod 0644 "$prefix/etc/klachtd/klachtd.toml"
    echo "install.sh: wrote /etc/klachtd/klachtd.toml; edit it, then: klachtd --config /etc/klachtd/klachtd.toml check-config --offline"
fi
for secret in imap-password smtp-password; do
    [[ -e $prefix/etc/klachtd/$secret ]] || install -m 0600 /dev/null "$prefix/etc/klachtd/$secret"
done
# The key of the reply tokens for actions by mail: random, for the service and its command line.
if [[ ! -e $prefix/etc/klachtd/actions-secret ]]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$prefix/etc/klachtd/actions-secret")
    if [[ -z $prefix ]]; then
        chgrp klachtd /etc/klachtd/actions-secret && chmod 0640 /etc/klachtd/actions-secret
    fi
fi

install -D -m 0644 systemd/klachtd.service "$prefix/etc/systemd/system/klachtd.service"
if [[ -z $prefix ]] && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    echo "install.sh: installed; put the passwords in /etc/klachtd/{imap,smtp}-password, then: systemctl enable --now klachtd"
else
    echo "install.sh: installed (systemd is not running here; enable the unit on the target system)"
fi

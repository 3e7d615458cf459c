#!/bin/sh
# edgeward: local certificates and secrets for trying compose.yaml on one machine.
# Production: put your real certificates in tls/site, tls/caldav, tls/printer
# (fullchain.pem + privkey.pem each) and your own secrets in secrets/ instead.
# Idempotent: existing files are kept. Needs openssl and python3 (for bcrypt-free hashing).
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p tls/site tls/caldav tls/printer secrets

if [ ! -f tls/ca.pem ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=edgeward compose CA" \
        -keyout tls/ca-key.pem -out tls/ca.pem 2>/dev/null
fi
leaf() { # leaf DIR NAME...
    dir=$1; shift
    [ -f "$dir/fullchain.pem" ] && return 0
    san=$(printf 'DNS:%s,' "$@"); san=${san%,}
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$dir/privkey.pem" \
        -out "$dir/req.csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$dir/ext.cnf"
    openssl x509 -req -in "$dir/req.csr" -CA tls/ca.pem -CAkey tls/ca-key.pem -CAcreateserial \
        -days 90 -extfile "$dir/ext.cnf" -out "$dir/cert.pem" 2>/dev/null
    cat "$dir/cert.pem" tls/ca.pem > "$dir/fullchain.pem"
    rm -f "$dir/req.csr" "$dir/ext.cnf"
}
leaf tls/site example.org localhost
leaf tls/caldav cal.example.org localhost
leaf tls/printer printer.example.org
# The containers run as uid 10001: let them read what they mount.
chmod 0755 tls tls/site tls/caldav tls/printer
chmod 0644 tls/*/privkey.pem tls/*/fullchain.pem

if [ ! -f secrets/printer.password ]; then
    openssl rand -base64 18 > secrets/printer.password
fi
if [ ! -f secrets/caldav.htpasswd ]; then
    password=$(openssl rand -base64 12)
    # SHA-512 crypt, which Radicale's htpasswd backend accepts.
    printf 'demo:%s\n' "$(openssl passwd -6 "$password")" > secrets/caldav.htpasswd
    echo "CalDAV user demo, password: $password"
fi
chmod 0644 secrets/*

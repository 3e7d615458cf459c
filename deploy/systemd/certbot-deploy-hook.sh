#!/bin/sh
# edgeward: certbot deploy hook example - hand a renewed certificate to the services.
#
# Install: /etc/letsencrypt/renewal-hooks/deploy/edgeward (mode 0755). certbot runs it as
# root after each successful renewal with RENEWED_LINEAGE (/etc/letsencrypt/live/<name>)
# and RENEWED_DOMAINS set. Nothing restarts: the gateway and printer-sync watch notice the
# new files themselves; nginx only needs a reload.
set -eu

# Edit the names here (or set them in the environment).
: "${CALDAV_NAME:=cal.example.org}"        # the certificate the CalDAV gateway serves
: "${CALDAV_TLS:=/etc/edgeward/caldav/tls}"
: "${CALDAV_GROUP:=edgeward-caldav}"
: "${PRINTER_NAME:=printer.example.org}"   # the certificate pushed to the printers
: "${PRINTER_TLS:=/etc/edgeward/printer/tls}"
: "${PRINTER_GROUP:=edgeward-printer}"

lineage_name=$(basename "${RENEWED_LINEAGE:?certbot sets RENEWED_LINEAGE}")

# Copy key and certificate so readers see the old pair or the new one, never half: install
# writes a temporary file, then rename replaces the old one atomically. The key first,
# then the certificate: the gateway reloads when the certificate changes, and refuses a
# pair that does not match (the old one stays in service).
publish() { # publish DIR GROUP
    install -d -m 0750 -o root -g "$2" "$1"
    install -m 0640 -o root -g "$2" "$RENEWED_LINEAGE/privkey.pem" "$1/.privkey.pem.new"
    mv -f "$1/.privkey.pem.new" "$1/privkey.pem"
    install -m 0644 -o root -g "$2" "$RENEWED_LINEAGE/fullchain.pem" "$1/.fullchain.pem.new"
    mv -f "$1/.fullchain.pem.new" "$1/fullchain.pem"
}

case "$lineage_name" in
"$CALDAV_NAME")
    publish "$CALDAV_TLS" "$CALDAV_GROUP"
    ;;
"$PRINTER_NAME")
    publish "$PRINTER_TLS" "$PRINTER_GROUP"
    # printer-sync watch sees the new files. With the timer variant, push now:
    if systemctl is-enabled --quiet edgeward-printer-sync-push.timer 2>/dev/null; then
        systemctl start --no-block edgeward-printer-sync-push.service
    fi
    ;;
esac

# nginx reads its certificates at (re)load only.
if systemctl is-active --quiet nginx; then
    systemctl reload nginx
fi

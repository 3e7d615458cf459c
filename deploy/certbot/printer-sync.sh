#!/bin/sh
# certbot deploy hook: push a renewed certificate to the printers that use it.
#
# Install (certbot runs every executable in this folder after each successful renewal,
# with RENEWED_LINEAGE and RENEWED_DOMAINS set):
#
#   install -m 0755 deploy/certbot/printer-sync.sh /etc/letsencrypt/renewal-hooks/deploy/
#
# or once, by hand:  certbot renew --deploy-hook /path/to/printer-sync.sh
#
# Only printers whose configuration uses files of that lineage (key/cert/chain under
# /etc/letsencrypt/live/NAME/) or names one of the renewed domains (`domains = [...]`) are
# pushed; any other renewal is a no-op (exit 0). The push waits for the printer's reboot
# and checks that it serves the new certificate; a failure exits 1, which certbot logs.
#
# If `printer-sync watch` runs as a service, it picks renewals up by itself: this hook is
# then optional (a push it finds already done is skipped).
set -eu

: "${PRINTER_SYNC_CONFIG:=/etc/printer-sync/printers.toml}"
: "${PRINTER_SYNC:=printer-sync}"

exec "$PRINTER_SYNC" hook --from certbot --config "$PRINTER_SYNC_CONFIG" --log-format json

#!/bin/bash
# Stop kadd's e2e OpenStack (its own processes only) and delete its state directory.
# The Debian packages stay installed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root
"$E2E_DIR/stop.sh"
# refuse anything that does not look like our own state dir
[ -e "$STATE/etc/my.cnf" ] || [ ! -e "$STATE" ] || die "refusing to delete $STATE: it has no etc/my.cnf, so it is not a kadd e2e state dir"
case "$STATE" in /|/var|/var/tmp|/tmp|/home|/root|/etc|/usr) die "refusing to delete $STATE";; esac
rm -rf "$STATE"
log "wipe.sh: deleted $STATE"

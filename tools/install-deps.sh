#!/bin/sh
# Install everything pg_dataspace needs to build, test and run its demo on
# Debian 12.  Idempotent: packages already present are skipped by apt-get.
set -eu

PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libpq-dev libssl-dev libcurl4-openssl-dev libipc-run-perl
	make gcc clang libclang-rt-14-dev openssl python3 util-linux"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

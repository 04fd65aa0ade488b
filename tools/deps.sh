#!/bin/sh
# deps.sh - install the Debian packages the project needs, only those missing.
# Idempotent and quiet when everything is present (make deps).
set -eu
PKGS="build-essential clang llvm libclang-rt-14-dev binutils pkg-config
libuv1-dev libcjson-dev libsqlite3-dev libgit2-dev libcurl4-openssl-dev
libarchive-dev libhttp-parser-dev libinih-dev libssl-dev libelf-dev libcmocka-dev
python3 python3-pytest python3-jsonschema qemu-system-x86 qemu-utils pci.ids pciutils
zstd wrk"
missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"

#!/usr/bin/env bash
# scripts/bare-machine.sh -- rehearse "a fresh Debian 12 machine, as root" on this repository.
#
#   scripts/bare-machine.sh [CMD...]        default CMD: make demo
#   scripts/bare-machine.sh make test
#   BARE_REF=layout scripts/bare-machine.sh 'make demo && make test'
#
# Runs CMD (joined, through `bash -lc`) as root in a throwaway chroot that holds a bare Debian 12
# root, in /root/faultline, a fresh `git clone` of this repository checked out at BARE_REF
# (default HEAD): only committed files, no build outputs, nothing installed by hand. Exits with
# CMD's status and prints how long CMD took.
#
# What is bare: mmdebstrap's `important` variant (Priority required + important, what
# debootstrap or a server install without tasks gives) plus ca-certificates, git, make, gcc and
# python3 (what a user has to have to clone and type `make`). No pkg-config, no -dev packages,
# no clang, no Go, no Redis or Postgres: the project's own `make deps` must install them.
# BARE_VARIANT=standard gives a fatter root.
#
# The root is built once with mmdebstrap (installed with apt-get when missing), from this
# machine's own apt sources and Acquire/proxy settings, and cached as a tarball in
# BARE_CACHE (default /var/cache/faultline-bare; delete the tarball to rebuild). Each run
# unpacks it into a new temp dir, bind-mounts /proc, /sys, /dev, /dev/pts and a private tmpfs on
# /dev/shm, and copies in what a machine of this network is set up with to fetch: resolv.conf,
# the apt configuration, the locally added CA certificates (/usr/local/share/ca-certificates,
# for HTTPS through a proxy that re-signs it) and /etc/npmrc (npm's system-wide settings; never
# a user's ~/.npmrc). A policy-rc.d that refuses every start keeps the services that apt
# installs (redis-server, postgresql) from starting: the chroot shares this machine's network
# and its ports, and the project starts its own throwaway servers anyway. At the end every
# process still running inside the root is killed (by pid: only those whose root is the temp
# dir), the mounts are undone and the dir deleted (BARE_KEEP=1 leaves the unpacked root in place,
# unmounted, and prints its path).
#
# Needs root and mount rights (a container without CAP_SYS_ADMIN cannot run it).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bare-machine: run as root (it builds and enters a chroot)" >&2; exit 2; }
[ $# -ge 1 ] || set -- make demo
REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
REF=$(git -C "$REPO" rev-parse --verify "${BARE_REF:-HEAD}^{commit}")
VARIANT=${BARE_VARIANT:-important}
CACHE=${BARE_CACHE:-/var/cache/faultline-bare}
TARBALL=$CACHE/bookworm-$VARIANT.tar
say() { echo "bare-machine: $*" >&2; }

if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
    say "note: $REPO has uncommitted changes; the rehearsal uses the committed tree ($REF)"
fi

# this machine's apt sources, and its local (no package's) apt.conf.d files about fetching
SOURCES=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
APTCONF=$(grep -lsE '^[^#/]*(Acquire|Proxy)' /etc/apt/apt.conf.d/* |
          while read -r f; do dpkg -S "$f" >/dev/null 2>&1 || echo "$f"; done)

if [ ! -s "$TARBALL" ]; then
    if ! command -v mmdebstrap >/dev/null; then
        say "installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2
    fi
    say "building the bare root ($VARIANT) into $TARBALL (once)"
    mkdir -p "$CACHE"
    # shellcheck disable=SC2046,SC2086  # the file lists are meant to split into words
    mmdebstrap --mode=root --format=tar --variant="$VARIANT" \
        --include=ca-certificates,git,make,gcc,python3 \
        $(printf -- '--aptopt=%s ' $APTCONF) bookworm "$TARBALL.part" $SOURCES >&2
    mv "$TARBALL.part" "$TARBALL"
fi

ROOT=$(mktemp -d /tmp/bare-machine.XXXXXX)
MOUNTS=()
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local p m
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -9 "${p#/proc/}" 2>/dev/null
    done
    sleep 1
    for ((m = ${#MOUNTS[@]} - 1; m >= 0; m--)); do umount "${MOUNTS[m]}" || umount -l "${MOUNTS[m]}"; done
    if findmnt -rn -o TARGET | grep -q "^$ROOT"; then say "$ROOT is still mounted, left in place"
    elif [ -n "${BARE_KEEP:-}" ]; then say "root kept: $ROOT"
    else rm -rf "$ROOT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mnt() {   # mnt MOUNT-ARGS... PATH: mounted on $ROOT/PATH, private (nothing propagates to the host)
    local at=$ROOT${*: -1}
    mount "${@:1:$#-1}" "$at" && MOUNTS+=("$at") && mount --make-private "$at"
}

tar -C "$ROOT" --numeric-owner -xpf "$TARBALL"
mnt --bind /proc /proc; mnt --bind /sys /sys; mnt --bind /dev /dev; mnt --bind /dev/pts /dev/pts
mnt -t tmpfs -o mode=1777 tmpfs /dev/shm
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
rm -f "$ROOT"/etc/apt/sources.list "$ROOT"/etc/apt/sources.list.d/*
# shellcheck disable=SC2086
for f in $SOURCES $APTCONF; do cp "$f" "$ROOT$f"; done
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    chroot "$ROOT" update-ca-certificates >/dev/null 2>&1
fi
[ -f /etc/npmrc ] && cp /etc/npmrc "$ROOT/etc/npmrc"
printf '#!/bin/sh\n# bare-machine.sh: no service starts inside the rehearsal root\nexit 101\n' \
    >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
git clone -q "$REPO" "$ROOT/root/faultline"
git -C "$ROOT/root/faultline" checkout -q "$REF"

say "$(git -C "$REPO" log -1 --format='%h %s' "$REF" | cut -c1-100)"
say "running as root in $ROOT/root/faultline: $*"
start=$(date +%s)
set +e
chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM="${TERM:-dumb}" LANG=C.UTF-8 /bin/bash -lc "cd /root/faultline && $*"
rc=$?
set -e
say "exit $rc after $(( $(date +%s) - start )) s: $*"
exit $rc

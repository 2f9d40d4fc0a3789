#!/bin/sh
# End to end: publish Debian bookworm's seabios 1.16.2-1 in an fwlog log as its vendor would, rebuild
# it from source with `fwlog rebuild` as a guest owner, log the reproduction, and verify Debian's
# shipped bios-256k.bin (and every other image) offline against a policy.
#
#   sudo examples/debian-seabios/run.sh [DIR]
#
# DIR (default: a new /tmp/fwlog-debian-seabios.XXXXXX) holds everything: downloads, keys, the log,
# the rebuild's work directory, bundles and the policy. Re-running with the same DIR reuses the
# downloads, keys, log and release, and does a fresh rebuild that is logged as a new reproduction.
#
# Needs: root, Debian bookworm amd64, network access to a Debian mirror. It changes the system:
# it adds /etc/apt/sources.list.d/fwlog-bookworm-src.sources (a bookworm deb-src entry) when no
# configured source lists seabios 1.16.2-1, runs `apt-get update` and installs the package's build
# dependencies with `apt-get build-dep`.
#
# Environment: FWLOG (the fwlog binary; default: target/release/fwlog of this checkout, built with
# cargo if missing), FWLOG_SANDBOX (`none` or `bwrap`, passed to `fwlog rebuild --sandbox`).
#
# Exit status: 0 when the rebuild reproduced every image bit for bit and `fwlog verify` accepted
# them; otherwise that of the failing step (3: mismatch, 4: the recipe failed).

set -eu

PKG=seabios
VERSION=1.16.2-1
UPSTREAM=1.16.2
DSC_SHA256=32bcfddb7c78fab3d983ab3c557398a4013a11e55dcd8a9c3de273e74a56b9c3
DEB_SHA256=08e5b3f761379f17a6051731cafa03e97686049e2cc1b8bdccc5a910646e2d8e
ORIGIN=fwlog.example/debian-seabios-log
SRC_LIST=/etc/apt/sources.list.d/fwlog-bookworm-src.sources

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

say() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

# --- 0. Preconditions -------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (it installs build dependencies with apt-get)"
OS=$(. /etc/os-release && echo "${VERSION_CODENAME:-?} ${PRETTY_NAME:-unknown}")
[ "${OS%% *}" = bookworm ] || die "needs Debian bookworm (this is ${OS#* })"
[ "$(dpkg --print-architecture)" = amd64 ] || die "needs amd64 (seabios' images are built with the host x86 gcc)"
# apt's unprivileged download helpers write to /dev/null; a regular file there breaks apt-key.
[ -c /dev/null ] || die "/dev/null is not a character device (ls -l /dev/null); restore it: rm /dev/null && mknod -m 666 /dev/null c 1 3"
command -v git >/dev/null || die "git is needed (apt-get install git)"

DIR=${1:-}
if [ -z "$DIR" ]; then DIR=$(mktemp -d /tmp/fwlog-debian-seabios.XXXXXX); fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
cd "$DIR"
say "working in $DIR"

if [ -z "${FWLOG:-}" ]; then
    FWLOG=$ROOT/target/release/fwlog
    if [ ! -x "$FWLOG" ]; then
        say "building fwlog (cargo build --release)"
        (cd "$ROOT" && cargo build --release --quiet)
    fi
fi
[ -x "$FWLOG" ] || die "no fwlog binary at $FWLOG"
fw() { "$FWLOG" "$@"; }
# fwlog commits to Git: make sure there is an identity.
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-fwlog debian-seabios example}"
export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-fwlog-example@example.invalid}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME}"
export GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}"
export DEBIAN_FRONTEND=noninteractive

t_start=$(now)

# --- 1. Debian's sources and build dependencies ----------------------------------------------
has_source() { apt-cache showsrc "$PKG" 2>/dev/null | grep -qx "Version: $VERSION"; }
say "apt-get update"
apt-get update -qq
if ! has_source; then
    say "no configured deb-src lists $PKG $VERSION: adding $SRC_LIST"
    cat > "$SRC_LIST" <<'EOF'
# Added by fwlog examples/debian-seabios/run.sh: Debian source packages for bookworm.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq
    has_source || die "apt-cache showsrc does not list $PKG $VERSION: see apt-get update's warnings above; if bookworm has moved on, point a deb-src entry at snapshot.debian.org"
fi
say "apt-get build-dep $PKG=$VERSION"
apt-get build-dep -y -qq "$PKG=$VERSION" >"$DIR/build-dep.log" 2>&1 || { cat "$DIR/build-dep.log" >&2; die "apt-get build-dep failed"; }
t_deps=$(now)

# --- 2. The release as Debian published it: source package and binary package ----------------
check_sha() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
mkdir -p debian
# DIR may be private to root (mktemp -d): download as root rather than as _apt (apt would fall back
# to that anyway, with a warning). The files are checked against pinned digests below.
APT_AS_ROOT="-o APT::Sandbox::User=root"
DSC=${PKG}_${VERSION}.dsc
DEB=${PKG}_${VERSION}_all.deb
if ! check_sha "debian/$DSC" "$DSC_SHA256"; then
    say "apt-get source --download-only $PKG=$VERSION"
    (cd debian && apt-get source -qq $APT_AS_ROOT --download-only "$PKG=$VERSION")
fi
check_sha "debian/$DSC" "$DSC_SHA256" || die "debian/$DSC does not have the expected SHA-256 $DSC_SHA256"
if ! check_sha "debian/$DEB" "$DEB_SHA256"; then
    say "apt-get download $PKG=$VERSION"
    (cd debian && apt-get download -qq $APT_AS_ROOT "$PKG=$VERSION")
fi
check_sha "debian/$DEB" "$DEB_SHA256" || die "debian/$DEB does not have the expected SHA-256 $DEB_SHA256"
# Unpacking checks the .orig and .debian tarballs against the .dsc's checksums (--no-check only
# skips the OpenPGP signature, which needs the uploader's key; apt already authenticated the
# files through the archive's signed Sources index). SOURCE_DATE_EPOCH is what dpkg-buildpackage
# would set: the date of the changelog entry.
rm -rf debian/src
(cd debian && dpkg-source --no-check -x "$DSC" src >/dev/null)
SDE=$(dpkg-parsechangelog -l debian/src/debian/changelog -STimestamp)
rm -rf debian/src

# The source archive fwlog logs the digest of: one deterministic tar of the three files.
SOURCE=$DIR/${PKG}_${VERSION}.source.tar
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C debian -cf "$SOURCE.tmp" \
    "$DSC" "${PKG}_${UPSTREAM}.orig.tar.gz" "${PKG}_${VERSION}.debian.tar.xz"
mv "$SOURCE.tmp" "$SOURCE"
SOURCE_SHA256=$(sha256sum "$SOURCE" | cut -d' ' -f1)
say "source archive $(basename "$SOURCE") sha256 $SOURCE_SHA256"

# The artifacts: the images Debian ships in /usr/share/seabios (regular files; vgabios.bin is a
# symlink to vgabios-isavga.bin in the package and is left out).
rm -rf debian/binary artifacts
dpkg-deb -x "debian/$DEB" debian/binary
mkdir artifacts
for f in debian/binary/usr/share/seabios/*; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then cp "$f" artifacts/; fi
done
set -- artifacts/*
say "$# artifacts from $DEB"

# --- 3. Keys and the log ----------------------------------------------------------------------
mkdir -p keys
for k in log:$ORIGIN vendor:debian-seabios-vendor.example guest:guest-owner.example; do
    file=keys/${k%%:*}.key
    [ -f "$file" ] || fw key generate --name "${k#*:}" --out "$file" >/dev/null
done
LOG_VKEY=$(fw key public keys/log.key)
VENDOR_VKEY=$(fw key public keys/vendor.key)
GUEST_VKEY=$(fw key public keys/guest.key)
if [ ! -d log ]; then
    fw log init --repo log --origin "$ORIGIN" --key keys/log.key >/dev/null
    say "initialised log $ORIGIN in $DIR/log"
fi

# --- 4. The vendor publishes the release ------------------------------------------------------
RELEASE=$DIR/release-$PKG-$VERSION.json
if [ ! -f "$RELEASE" ]; then
    set --
    for f in artifacts/*; do set -- "$@" --artifact "$f"; done
    fw release create --key keys/vendor.key --name "$PKG" --version "$VERSION" \
        --source "$SOURCE" \
        --source-uri "https://snapshot.debian.org/package/$PKG/$VERSION/" \
        --recipe "$HERE/recipe.sh" \
        --source-date-epoch "$SDE" \
        --environment "Debian bookworm amd64 with the build dependencies of $PKG $VERSION; Debian built the images with gcc 12.2.0-14 and binutils 2.40 (the versions embedded in them)" \
        "$@" --out "$RELEASE.tmp"
    mv "$RELEASE.tmp" "$RELEASE"
fi
RELEASE_INDEX=$(fw log append --repo log --key keys/log.key "$RELEASE" | awk 'NR == 1 { print $1 }')
say "release $PKG $VERSION is log entry $RELEASE_INDEX"

# --- 5. A guest owner rebuilds it from source with the logged recipe ---------------------------
WORK=$DIR/rebuild
say "fwlog rebuild --index $RELEASE_INDEX (runs the logged recipe: dpkg-source -x, debian/rules build)"
rm -rf "$WORK"
t_rebuild=$(now)
REPRO=$DIR/reproduction-$(date -u +%Y%m%dT%H%M%SZ).json
{
    rc=0
    fw rebuild --repo log --index "$RELEASE_INDEX" --source "$SOURCE" --key keys/guest.key \
        --workdir "$WORK" --out "$REPRO" --sandbox "${FWLOG_SANDBOX:-none}" \
        --environment "${OS#* } $(uname -m); gcc-12 $(dpkg-query -W -f '${Version}' gcc-12), binutils $(dpkg-query -W -f '${Version}' binutils), acpica-tools $(dpkg-query -W -f '${Version}' acpica-tools), debhelper $(dpkg-query -W -f '${Version}' debhelper)" \
        2>&1 || rc=$?
    echo "$rc" >"$DIR/rebuild.rc"
} | tee "$DIR/rebuild.txt"
rc=$(cat "$DIR/rebuild.rc")
t_rebuilt=$(now)
case $rc in
    0) say "reproduced bit for bit" ;;
    3) say "MISMATCH: rebuilt images in $WORK/out, build log in $WORK/build/seabios/build.log" ;;
    *) say "rebuild failed (exit status $rc): build log in $WORK/build/seabios/build.log" ;;
esac
# The verdict is logged whatever it is: a mismatch or failure is worth publishing too.
[ -f "$REPRO" ] || die "fwlog rebuild wrote no reproduction entry"
REPRO_INDEX=$(fw log append --repo log --key keys/log.key "$REPRO" | awk 'NR == 1 { print $1 }')
say "reproduction logged as entry $REPRO_INDEX"
[ "$rc" -eq 0 ] || exit "$rc"

# --- 6. The guest owner's policy, bundles and offline verification ----------------------------
cat > policy.toml <<EOF
# Accept seabios images released by the vendor key and reproduced by the guest owner's rebuilder.
[log]
origin = "$ORIGIN"
key = "$LOG_VKEY"

[[vendors]]
key = "$VENDOR_VKEY"
firmware = ["$PKG"]

[rebuilders]
quorum = 1
keys = ["$GUEST_VKEY"]
on_mismatch = "reject"
EOF
say "log audit: $(fw log verify --repo log 2>&1 | tail -n 1)"
mkdir -p bundles
for f in artifacts/*; do
    name=$(basename "$f")
    result=$(fw bundle --repo log --artifact "$f" --out "bundles/$name.bundle.json" 2>&1) \
        || die "fwlog bundle failed for $name: $result"
    # Debian's shipped file, checked offline against the policy.
    result=$(fw verify --policy policy.toml --bundle "bundles/$name.bundle.json" --artifact "debian/binary/usr/share/seabios/$name" 2>&1) \
        || die "fwlog verify rejected $name: $result"
done
say "fwlog verify accepted all $(ls artifacts | wc -l) images; bios-256k.bin: $(fw verify --policy policy.toml --bundle bundles/bios-256k.bin.bundle.json --artifact debian/binary/usr/share/seabios/bios-256k.bin 2>&1 | tail -n 1)"

# --- 7. Summary ------------------------------------------------------------------------------
t_end=$(now)
echo
echo "Debian bookworm $PKG $VERSION reproduced bit for bit from source and verified with fwlog."
echo "  source archive   $SOURCE_SHA256  $(basename "$SOURCE")"
(cd artifacts && sha256sum -- *) | sed 's/^/  /'
echo "  timings: apt (update + build-dep) $((t_deps - t_start)) s, fwlog rebuild $((t_rebuilt - t_rebuild)) s, total $((t_end - t_start)) s"
echo "  log: $DIR/log (entries $RELEASE_INDEX release, $REPRO_INDEX reproduction); policy: $DIR/policy.toml; bundles: $DIR/bundles/"
echo "  try: $FWLOG verify --policy $DIR/policy.toml --bundle $DIR/bundles/bios-256k.bin.bundle.json --artifact $DIR/debian/binary/usr/share/seabios/bios-256k.bin"

# fwlog build recipe: Debian bookworm seabios 1.16.2-1, the images of the binary package `seabios`.
#
# Run by `fwlog rebuild` as `/bin/sh -eu recipe.sh` in an empty build directory with a cleared
# environment: FWLOG_SOURCE (a tar of the Debian source package: .dsc, .orig.tar.gz,
# .debian.tar.xz), FWLOG_OUT (where each artifact goes, under its release name), FWLOG_WORKDIR,
# SOURCE_DATE_EPOCH, a standard PATH, HOME, TZ=UTC and LC_ALL=C.UTF-8.
#
# It needs neither network nor root. It needs a Debian bookworm amd64 system with the package's
# build dependencies installed beforehand (`apt-get build-dep seabios=1.16.2-1`, which also pulls
# in build-essential: gcc 12.2.0, binutils 2.40, python3, acpica-tools, debhelper).
#
# The one adjustment: SeaBIOS embeds the first line of `cc --version` in every image. Debian built
# 1.16.2-1 with gcc-12 12.2.0-14; bookworm now ships 12.2.0-14+deb12u1, whose only change is an
# AArch64 fix, so x86 code is identical but the version string is not. A `cc`/`gcc` wrapper in
# front of PATH reports the Debian revision the release was built with and passes every other
# invocation to the real compiler unchanged.

set -eu

DSC=seabios_1.16.2-1.dsc
BUILT_WITH_GCC=12.2.0-14          # Debian revision of gcc-12 that built the released images

# SeaBIOS's Makefile probes compiler options with `cc ... -o /dev/null -xc /dev/null`; if /dev/null
# has been replaced by a regular file, the probes silently fail and the images differ (or the
# build breaks with "Unable to fixup leal instruction").
[ -c /dev/null ] || { echo "recipe.sh: /dev/null is not a character device" >&2; exit 1; }

# 1. Unpack the source package (signature checking is the source digest's job: fwlog compared it
#    with the logged one before running this recipe).
mkdir -p pkg
tar -xf "$FWLOG_SOURCE" -C pkg
dpkg-source --no-check -x "pkg/$DSC" seabios >/dev/null
cd seabios

# 2. The compiler wrapper.
real_gcc=$(command -v gcc)
real_line=$("$real_gcc" --version | head -n 1)
case "$real_line" in
    *"(Debian 12.2.0-14"*") 12.2.0") ;;
    *) echo "recipe.sh: expected Debian gcc 12.2.0-14[+debNuN], found: $real_line" >&2; exit 1 ;;
esac
mkdir -p "$FWLOG_WORKDIR/bin"
{
    echo '#!/bin/sh'
    echo '# `--version` reports the gcc-12 revision the release was built with; all else is the real gcc.'
    echo "real=$real_gcc built_with=$BUILT_WITH_GCC"
    cat <<'WRAPPER'
if [ "$#" -eq 1 ] && [ "$1" = --version ]; then
    "$real" --version | sed "1s/(Debian 12\.2\.0-14[^)]*)/(Debian $built_with)/"
    exit 0
fi
exec "$real" "$@"
WRAPPER
} > "$FWLOG_WORKDIR/bin/gcc"
chmod 755 "$FWLOG_WORKDIR/bin/gcc"
ln -sf gcc "$FWLOG_WORKDIR/bin/cc"
PATH="$FWLOG_WORKDIR/bin:$PATH"
export PATH
echo "cc --version: $(cc --version | head -n 1)"

# 3. Build every image the binary package ships (debian/rules `build`: 3 BIOS + 9 VGA BIOS images,
#    and the ACPI DSDT as a by-product). The rules file serialises its targets; -j lets each
#    image's own make run in parallel.
jobs=$(nproc 2>/dev/null || echo 1)
./debian/rules -j"$jobs" build >build.log 2>&1 || { tail -n 50 build.log >&2; exit 1; }

[ -c /dev/null ] || { echo "recipe.sh: /dev/null stopped being a character device during the build" >&2; exit 1; }

# 4. The artifacts, under the names the binary package installs them as
#    (/usr/share/seabios/<name>; vgabios.bin there is a symlink to vgabios-isavga.bin).
for f in build/*.bin; do
    cp "$f" "$FWLOG_OUT/${f#build/}"
done
cp build/src/fw/acpi-dsdt.aml "$FWLOG_OUT/acpi-dsdt.aml"
ls -l "$FWLOG_OUT"

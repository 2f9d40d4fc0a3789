#!/bin/sh
# Builds firmware.bin, a 4 KiB image: a header, the build's SOURCE_DATE_EPOCH, the payload,
# padded with 0xff. Only POSIX tools, so it reproduces bit for bit on any machine.
set -eu
out="$1"
{
    printf 'TINYFW\001\000'
    printf 'version %s built %s\n' "$(cat VERSION)" "$SOURCE_DATE_EPOCH"
    cat payload.txt
} > image.tmp
size=$(wc -c < image.tmp)
dd if=/dev/zero bs=1 count=$((4096 - size)) 2>/dev/null | tr '\000' '\377' >> image.tmp
mv image.tmp "$out/firmware.bin"

# fwlog recipe for tiny-firmware: run by `/bin/sh -eu` with FWLOG_SOURCE (the source
# archive), FWLOG_OUT (where artifacts go) and SOURCE_DATE_EPOCH set.
mkdir src
tar -xf "$FWLOG_SOURCE" -C src
cd src
sh ./make.sh "$FWLOG_OUT"

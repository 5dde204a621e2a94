#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright; Chinese text needs CJK fonts.
# `tongban verify` reads printed documents with poppler (pdftoppm renders a PDF's pages to
# find its QR code; poppler-data lets it draw the Adobe-GB1 font STSong-Light).
# Installs them from Debian packages when missing and running as root.
set -uo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -i "noto.*cjk" >/dev/null || need+=(fonts-noto-cjk)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ -d /usr/share/poppler/cMap/Adobe-GB1 ] || need+=(poppler-data)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing ${need[*]}: install them (apt-get install ${need[*]}); browser tests fail under CI without them" >&2
  exit 0
fi
echo "installing ${need[*]} from Debian packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" fontconfig >/dev/null \
  || echo "could not install ${need[*]}; browser tests fail under CI without them" >&2
exit 0

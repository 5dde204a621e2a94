#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright; Chinese text needs CJK fonts.
# Installs them from Debian packages when missing and running as root.
set -uo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "noto.*cjk" || need+=(fonts-noto-cjk)
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

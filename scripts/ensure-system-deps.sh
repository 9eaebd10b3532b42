#!/usr/bin/env bash
# Make sure the system programs vlcache needs are present, installing them with apt-get when running as root.
#
#   scripts/ensure-system-deps.sh [--optional] PROGRAM...
#
# PROGRAM is one of: redis-server, chromium (each the Debian package of the same name), fonts (fonts-dejavu-core and
# fonts-liberation: the faces the demo model's test set and Examples are drawn with through sharp/fontconfig; without
# them fontconfig substitutes other faces, and the pictures, and so the demo model's answers, change).
# Exit status: 0 when every PROGRAM is available afterwards. When one is missing and cannot be installed (not root, or
# no apt-get), a message names the package to install; with --optional that is a warning and the exit status stays 0
# (the demo runs without redis-server by falling back to the in-process store).
set -euo pipefail

optional=0
if [[ "${1:-}" == "--optional" ]]; then
  optional=1
  shift
fi

if [[ $# -eq 0 ]]; then
  echo "usage: $0 [--optional] redis-server|chromium|fonts ..." >&2
  exit 2
fi

# program -> Debian packages (all in Debian main).
package_for() {
  case "$1" in
    redis-server) echo "redis-server" ;;
    chromium) echo "chromium" ;;
    fonts) echo "fonts-dejavu-core fonts-liberation" ;;
    *) echo "ensure-system-deps: unknown program '$1' (known: redis-server, chromium, fonts)" >&2; return 2 ;;
  esac
}

# Chromium is looked for where Debian installs it, because the e2e tests launch /usr/bin/chromium.
is_present() {
  case "$1" in
    chromium) [[ -x /usr/bin/chromium ]] ;;
    fonts) [[ -d /usr/share/fonts/truetype/dejavu && -d /usr/share/fonts/truetype/liberation ]] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing_packages=()
for program in "$@"; do
  package="$(package_for "$program")"
  if is_present "$program"; then
    echo "system deps: $program present"
  else
    read -ra packages <<<"$package"
    missing_packages+=("${packages[@]}")
  fi
done

if [[ ${#missing_packages[@]} -eq 0 ]]; then
  exit 0
fi

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "system deps: installing ${missing_packages[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # Packaged services (redis-server) must not be started by the install: vlcache starts its own private instance.
  # policy-rc.d answering 101 is Debian's documented way to say "do not start services" during package installs.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing_packages[@]}"
  exit 0
fi

for package in "${missing_packages[@]}"; do
  echo "system deps: '$package' is missing. Install the Debian package: apt-get install $package (as root)." >&2
done
if [[ $optional -eq 1 ]]; then
  exit 0
fi
exit 1

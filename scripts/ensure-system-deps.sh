#!/usr/bin/env bash
# Make sure the system programs vlcache needs are present, installing them with apt-get when running as root.
#
#   scripts/ensure-system-deps.sh [--optional] PROGRAM...
#
# PROGRAM is one of: redis-server, chromium. Each maps to the Debian package of the same name.
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
  echo "usage: $0 [--optional] redis-server|chromium ..." >&2
  exit 2
fi

# program -> Debian package. Both live in Debian main under the same name as the binary.
package_for() {
  case "$1" in
    redis-server) echo "redis-server" ;;
    chromium) echo "chromium" ;;
    *) echo "ensure-system-deps: unknown program '$1' (known: redis-server, chromium)" >&2; return 2 ;;
  esac
}

# Chromium is looked for where Debian installs it, because the e2e tests launch /usr/bin/chromium.
is_present() {
  case "$1" in
    chromium) [[ -x /usr/bin/chromium ]] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing_packages=()
for program in "$@"; do
  package="$(package_for "$program")"
  if is_present "$program"; then
    echo "system deps: $program present"
  else
    missing_packages+=("$package")
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
  # fonts-liberation gives Chromium readable text in screenshots; it is small and only pulled with chromium.
  extra=()
  for package in "${missing_packages[@]}"; do
    if [[ "$package" == "chromium" ]]; then extra+=(fonts-liberation); fi
  done
  apt-get install -y -q --no-install-recommends "${missing_packages[@]}" "${extra[@]}"
  exit 0
fi

for package in "${missing_packages[@]}"; do
  echo "system deps: '$package' is missing. Install the Debian package: apt-get install $package (as root)." >&2
done
if [[ $optional -eq 1 ]]; then
  exit 0
fi
exit 1

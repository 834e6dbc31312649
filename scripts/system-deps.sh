#!/usr/bin/env bash
# Install the few Debian packages brainscan needs, when they are missing:
#   (default) a C compiler and the MySQL/MariaDB client headers, to build mysqlclient;
#   browser   Debian's Chromium and ChromeDriver, for the browser tests;
#   dicom     dicom3tools (dciodvfy) and dcmtk (dsrdump), which validate the DICOM objects
#             brainscan sends back to a PACS (pacs/tests/test_results.py).
# Needs root or sudo; otherwise it says what to install and stops.
set -euo pipefail

want=()
if [[ "${1:-}" == browser ]]; then
  command -v chromium >/dev/null 2>&1 || want+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || want+=(chromium-driver)
elif [[ "${1:-}" == dicom ]]; then
  command -v dciodvfy >/dev/null 2>&1 || want+=(dicom3tools)
  command -v dsrdump >/dev/null 2>&1 || want+=(dcmtk)
else
  command -v gcc >/dev/null 2>&1 || want+=(build-essential)
  pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null \
    || want+=(default-libmysqlclient-dev pkg-config)
fi
[[ ${#want[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "brainscan needs these Debian packages: ${want[*]}. Install them as root, then run make again." >&2
  exit 1
fi
echo "Installing Debian packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null

#!/usr/bin/env bash
# Set up vaestudio on a Debian machine with Python 3.11 and then run it or its tests.
#   bash packaging/bootstrap.sh run    # set up, then start vaestudio (extra arguments go to vaestudio)
#   bash packaging/bootstrap.sh test   # set up, then run the whole test suite (extra arguments go to pytest)
# It installs the Debian packages (the Fashion-MNIST dataset, the libraries Qt needs, and for the tests
# Chromium and its driver), creates .venv/ in the checkout, installs vaestudio into it, and fetches the pinned
# TensorFlow.js that `vaestudio report` inlines (from the npm registry, sha512 checked, into ~/.cache/vaestudio/).
# Running it again only does what is missing.
set -euo pipefail
mode=${1:-run}
shift || true
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

debs=(dataset-fashion-mnist libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
      libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
      libxcb-render-util0 libxcb-image0)
python3 -c 'import ensurepip, venv' 2>/dev/null || debs+=(python3-venv)
# The report's browser test (tests/test_report_browser.py) drives Debian's Chromium with selenium.
if [ "$mode" = test ]; then debs+=(chromium chromium-driver); fi
missing=()
for deb in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# The tests also build the packaged binary, so they need PyInstaller (the "package" extra).
case "$mode" in test) extras=test,package ;; *) extras=test ;; esac
stamp=.venv/.vaestudio-installed-${extras/,/-}
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
  touch "$stamp"
fi

# TensorFlow.js for `vaestudio report` (its version and sha512 are pinned in vaestudio/report/tfjs.py).
if ! .venv/bin/python -m vaestudio.report.tfjs where >/dev/null 2>&1; then
  echo "bootstrap: fetching TensorFlow.js for vaestudio report (npm registry)"
  # The tests need it; the window and the other commands do not, so `run` goes on without it.
  .venv/bin/python -m vaestudio.report.tfjs fetch || [ "$mode" != test ]
fi

case "$mode" in
  run)  exec .venv/bin/vaestudio "$@" ;;
  test) export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
        exec .venv/bin/python -m pytest "$@" ;;
  *)    echo "usage: bash packaging/bootstrap.sh run|test [args...]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Add vaestudio to the desktop's application menu, for the current user only (no root needed).
#   ./install-desktop.sh              # from the unpacked archive folder (next to the `vaestudio` executable)
#   ./install-desktop.sh --uninstall  # remove what it installed
# Installs into ${XDG_DATA_HOME:-~/.local/share}: applications/vaestudio.desktop (Exec = this folder's
# executable) and icons/hicolor/*/apps/vaestudio.{png,svg}; links ~/.local/bin/vaestudio to the executable
# unless something else already has that name. Move the folder? Run it again.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
bin_dir=$HOME/.local/bin
sizes=(16 32 48 64 128 256)

if [ -x "$here/vaestudio" ] && [ -d "$here/_internal/vaestudio/_resources" ]; then
  executable=$here/vaestudio                           # unpacked archive
  resources=$here/_internal/vaestudio/_resources
elif [ -f "$here/../resources/vaestudio.desktop" ]; then
  executable=$(command -v vaestudio || true)           # source checkout: use the installed command
  resources=$(cd "$here/../resources" && pwd)
else
  echo "install-desktop: run me from the unpacked vaestudio folder (next to the vaestudio executable)" >&2
  exit 2
fi

desktop_file=$data_home/applications/vaestudio.desktop
icon_files=("$data_home/icons/hicolor/scalable/apps/vaestudio.svg")
for size in "${sizes[@]}"; do icon_files+=("$data_home/icons/hicolor/${size}x${size}/apps/vaestudio.png"); done

refresh_caches() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$data_home/applications" || true
  # no icon-theme.cache in the user's folder (a stale one hides icons); a newer folder makes GTK rescan
  touch "$data_home/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$desktop_file" "${icon_files[@]}"
  if [ -L "$bin_dir/vaestudio" ]; then rm -f "$bin_dir/vaestudio"; fi
  refresh_caches
  echo "install-desktop: removed vaestudio from the application menu"
  exit 0
elif [ -n "${1:-}" ]; then
  echo "usage: install-desktop.sh [--uninstall]" >&2
  exit 2
fi

if [ -z "$executable" ]; then
  echo "install-desktop: no vaestudio command on PATH; install vaestudio first (pip install .)" >&2
  exit 2
fi

# The Exec key needs quoting (and escaping of " ` $ \) when the path has anything but plain characters.
exec_value=$executable
if [[ ! "$executable" =~ ^[A-Za-z0-9/._+-]+$ ]]; then
  escaped=$(printf '%s' "$executable" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/%/%%/g')
  exec_value="\"$escaped\""
fi

mkdir -p "$data_home/applications"
tmp=$(mktemp "$desktop_file.XXXXXX")
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    Exec=*)    printf 'Exec=%s\n' "$exec_value" ;;
    TryExec=*) printf 'TryExec=%s\n' "$executable" ;;
    *)         printf '%s\n' "$line" ;;
  esac
done < "$resources/vaestudio.desktop" > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$desktop_file"

install -D -m 644 "$resources/vaestudio.svg" "${icon_files[0]}"
for size in "${sizes[@]}"; do
  install -D -m 644 "$resources/icons/vaestudio-$size.png" "$data_home/icons/hicolor/${size}x${size}/apps/vaestudio.png"
done

linked=""
if [ "$executable" = "$here/vaestudio" ]; then
  mkdir -p "$bin_dir"
  if [ -L "$bin_dir/vaestudio" ] || [ ! -e "$bin_dir/vaestudio" ]; then
    ln -sfn "$executable" "$bin_dir/vaestudio"
    linked=" and $bin_dir/vaestudio"
  else
    echo "install-desktop: leaving $bin_dir/vaestudio alone (it is not a link made by this script)" >&2
  fi
fi
refresh_caches
echo "install-desktop: added vaestudio to the application menu ($desktop_file)$linked"

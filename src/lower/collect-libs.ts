/**
 * A POSIX sh script, run on the build platform inside the stage that built
 * the binaries, that copies into /caisson-out exactly the shared libraries
 * and dynamic loader those binaries need, found through their ELF headers
 * (readelf works on any target's ELF files, so no target code runs).
 * Arguments: the target's Debian multiarch directory, its GNU triple (they
 * differ for linux/386: i386-linux-gnu, i686-linux-gnu), its dpkg
 * architecture, then the binaries' paths.
 *
 * Libraries and the loader are taken only from the target's multiarch
 * directories (/lib/<multiarch>, /usr/lib/<multiarch>), where Debian's own
 * packages for that architecture (libc6:arm64, libssl3:arm64, …) put them and
 * security updates reach them. A cross toolchain's sysroot
 * (/usr/<triple>/lib, from libc6-arm64-cross and the like) is for linking
 * only: its libc lags behind the security updates, so a library found only
 * there fails the step, naming the package to install for the target. They
 * land in /lib/<multiarch>/ (the loader's built-in search path on Debian,
 * where `caisson check` looks), the loader at its PT_INTERP path. A library
 * found for another machine type than the binary's is skipped, so a build
 * host's own copy is never taken for the target's.
 */
export const COLLECT_LIBS_SCRIPT = `set -eu
multiarch="$1"; triple="$2"; arch="$3"; shift 3
command -v readelf >/dev/null || { echo "caisson: libraries: true needs readelf (Debian's binutils) in the stage that built $*" >&2; exit 1; }
out=/caisson-out
dirs="/lib/$multiarch /usr/lib/$multiarch"
seen=" "
machine() { readelf -h "$1" 2>/dev/null | sed -n 's/^ *Machine: *//p'; }
put() { mkdir -p "$out\${2%/*}"; cp -L "$1" "$out$2"; }
find_lib() {
  for d in $dirs; do
    if [ -e "$d/$1" ] && [ "$(machine "$d/$1")" = "$2" ]; then echo "$d/$1"; return 0; fi
  done
  return 1
}
missing() {
  cross="/usr/$triple/lib/$2"
  if [ -e "$cross" ]; then
    pkg=$(dpkg-query -S "$cross" 2>/dev/null | sed -n "s/^\\\\([^:,]*\\\\)-$arch-cross[:,].*/\\\\1/p" | head -n 1)
    echo "caisson: $1 needs $2 for $arch, which is only in the cross toolchain's $cross; that copy is for linking and does not get Debian's security updates, so it is never shipped. Install the target's own package in the stage: packages: [..., \${pkg:-libc6}:$arch]" >&2
  else
    echo "caisson: $1 needs $2, which is not in $dirs for $arch; install the package that has it for $arch in the stage (packages: [..., <package>:$arch])" >&2
  fi
  exit 1
}
walk() {
  for lib in $(readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p'); do
    case "$seen" in *" $lib "*) continue ;; esac
    seen="$seen$lib "
    path=$(find_lib "$lib" "$2") || missing "$1" "$lib"
    put "$path" "/lib/$multiarch/$lib"
    walk "$path" "$2"
  done
}
for bin in "$@"; do
  [ -e "$bin" ] || { echo "caisson: $bin does not exist" >&2; exit 1; }
  m=$(machine "$bin")
  [ -n "$m" ] || { echo "caisson: $bin is not an ELF file" >&2; exit 1; }
  interp=$(readelf -l "$bin" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \\(.*\\)]$/\\1/p')
  if [ -n "$interp" ]; then
    loader=$(find_lib "\${interp##*/}" "$m") || missing "$bin" "\${interp##*/}"
    put "$loader" "$interp"
    # The loader answers to its own name: libc's NEEDED entry for it needs no second copy.
    seen="$seen\${interp##*/} "
  fi
  walk "$bin" "$m"
done
`;

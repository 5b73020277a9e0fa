/**
 * A POSIX sh script, run on the build platform inside the stage that built
 * the binaries, that copies into /caisson-out exactly the shared libraries
 * and dynamic loader those binaries need, found through their ELF headers
 * (readelf works on any target's ELF files, so no target code runs).
 * Arguments: the target's Debian multiarch directory, its GNU triple (they
 * differ for linux/386: i386-linux-gnu, i686-linux-gnu), then the binaries'
 * paths. Libraries are looked for in the multiarch directories, then in the
 * cross toolchain's /usr/<triple>/lib, and land in /lib/<multiarch>/ (the
 * loader's built-in search path on Debian, where `caisson check` looks), the
 * loader at its PT_INTERP path. A library found for another
 * machine type than the binary's is skipped, so a build host's own copy is
 * never taken for the target's.
 */
export const COLLECT_LIBS_SCRIPT = `set -eu
multiarch="$1"; triple="$2"; shift 2
command -v readelf >/dev/null || { echo "caisson: libraries: true needs readelf (Debian's binutils) in the stage that built $*" >&2; exit 1; }
out=/caisson-out
dirs="/lib/$multiarch /usr/lib/$multiarch /usr/$triple/lib /lib /usr/lib"
seen=" "
machine() { readelf -h "$1" 2>/dev/null | sed -n 's/^ *Machine: *//p'; }
put() { mkdir -p "$out\${2%/*}"; cp -L "$1" "$out$2"; }
find_lib() {
  for d in $dirs; do
    if [ -e "$d/$1" ] && [ "$(machine "$d/$1")" = "$2" ]; then echo "$d/$1"; return 0; fi
  done
  return 1
}
walk() {
  for lib in $(readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p'); do
    case "$seen" in *" $lib "*) continue ;; esac
    seen="$seen$lib "
    path=$(find_lib "$lib" "$2") || { echo "caisson: $1 needs $lib, which is not in $dirs for $2" >&2; exit 1; }
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
    found=""
    # The target's own loader first (multiarch libc, kept current by security updates),
    # then a cross toolchain's copy.
    for c in "$interp" "/usr/$triple$interp" "/usr/$triple/lib/\${interp##*/}"; do
      if [ -e "$c" ] && [ "$(machine "$c")" = "$m" ]; then found="$c"; break; fi
    done
    [ -n "$found" ] || { echo "caisson: the loader $interp of $bin is not installed for $m" >&2; exit 1; }
    put "$found" "$interp"
    # The loader answers to its own name: libc's NEEDED entry for it needs no second copy.
    seen="$seen\${interp##*/} "
  fi
  walk "$bin" "$m"
done
`;

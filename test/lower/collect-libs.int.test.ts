// The rule of `libraries: true` (src/lower/collect-libs.ts): shipped libraries
// and the loader come only from the target's multiarch directories, never from
// a cross toolchain's sysroot. The script runs in the base image with stand-in
// ELF files (a fake readelf reads their machine, NEEDED entries and loader from
// text), so each case puts files exactly where Debian's packages would.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { COLLECT_LIBS_SCRIPT } from "../../src/lower/collect-libs.js";
import { DOCKER, requireEngine } from "../e2e/helpers.js";

const BASE = "caisson/debian:bookworm";

const SETUP = String.raw`set -eu
mkdir -p /usr/local/bin
cat > /usr/local/bin/readelf <<'FAKE'
#!/bin/sh
case "$1" in
  -h) sed -n 's/^machine=\(.*\)/  Machine:                           \1/p' "$2" ;;
  -d) sed -n 's/^needed=\(.*\)/ 0x0000000000000001 (NEEDED)             Shared library: [\1]/p' "$2" ;;
  -l) sed -n 's/^interp=\(.*\)/      [Requesting program interpreter: \1]/p' "$2" ;;
esac
FAKE
cat > /usr/local/bin/dpkg-query <<'FAKE'
#!/bin/sh
case "$2" in /usr/aarch64-linux-gnu/*) echo "libc6-arm64-cross: $2" ;; *) exit 1 ;; esac
FAKE
chmod 755 /usr/local/bin/readelf /usr/local/bin/dpkg-query
elf() { mkdir -p "$(dirname "$1")"; shift_path="$1"; shift; printf '%s\n' "$@" > "$shift_path"; }
elf /out/hello machine=AArch64 needed=libc.so.6 interp=/lib/ld-linux-aarch64.so.1
`;

/** Runs the script for linux/arm64 on /out/hello after `files` (shell) placed the libraries. */
function collect(files: string): { status: number | null; stderr: string; shipped: string } {
  const script = `${SETUP}${files}
cat > /tmp/collect.sh <<'CAISSON_SCRIPT'
${COLLECT_LIBS_SCRIPT}CAISSON_SCRIPT
set +e
sh /tmp/collect.sh aarch64-linux-gnu aarch64-linux-gnu arm64 /out/hello
status=$?
set -e
[ "$status" = 0 ] && for f in $(cd /caisson-out && find . -type f | sort); do echo "$f: $(grep '^from=' "/caisson-out/$f")"; done
exit "$status"
`;
  const r = spawnSync(DOCKER, ["run", "--rm", "-i", "--network", "none", BASE, "sh", "-s"], { input: script, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr, shipped: r.stdout };
}

const CROSS = `elf /usr/aarch64-linux-gnu/lib/libc.so.6 machine=AArch64 from=cross
elf /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 machine=AArch64 from=cross
`;
const MULTIARCH = `elf /lib/aarch64-linux-gnu/libc.so.6 machine=AArch64 needed=ld-linux-aarch64.so.1 from=multiarch
elf /lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 machine=AArch64 from=multiarch
`;

describe("libraries: true ships the target's own libraries", () => {
  it("takes libc and the loader from the multiarch directory when the cross sysroot has them too", () => {
    requireEngine();
    const r = collect(CROSS + MULTIARCH);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.shipped).toBe(
      "./lib/aarch64-linux-gnu/libc.so.6: from=multiarch\n./lib/ld-linux-aarch64.so.1: from=multiarch\n",
    );
  });

  it("fails on a loader only the cross toolchain has, naming it and the package to install", () => {
    requireEngine();
    const r = collect(CROSS);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("/out/hello needs ld-linux-aarch64.so.1 for arm64, which is only in the cross toolchain's /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1");
    expect(r.stderr).toContain("packages: [..., libc6:arm64]");
  });

  it("fails on a library only the cross toolchain has, though the loader is the target's", () => {
    requireEngine();
    const r = collect(`${CROSS}elf /lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 machine=AArch64 from=multiarch\n`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("/out/hello needs libc.so.6 for arm64, which is only in the cross toolchain's");
    expect(r.stderr).toContain("libc6:arm64");
  });

  it("never takes another architecture's copy, nor one outside the multiarch directories", () => {
    requireEngine();
    const r = collect(`elf /lib/ld-linux-aarch64.so.1 machine=AArch64 from=lib
elf /lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 machine="Advanced Micro Devices X86-64" from=host
`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("needs ld-linux-aarch64.so.1, which is not in /lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu for arm64");
  });
});

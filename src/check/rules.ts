// Stable rule ids, their default severity and a one-line description
// (docs/check.md explains each).

export type Severity = "error" | "warning" | "info";

export interface RuleInfo {
  readonly id: string;
  readonly severity: Severity;
  readonly summary: string;
}

export const RULES = [
  { id: "user.root", severity: "error", summary: "the image runs as root (User empty, 0 or a name with uid 0)" },
  { id: "user.unknown", severity: "error", summary: "User names a user or group that /etc/passwd or /etc/group does not have" },
  { id: "user.root-group", severity: "warning", summary: "the runtime user's primary group is 0 (root)" },
  { id: "config.missing", severity: "warning", summary: "no image config (a directory was checked without one): user and entrypoint rules skipped" },
  { id: "platform.missing", severity: "error", summary: "a platform asked for is not in the image" },
  { id: "fs.setuid", severity: "error", summary: "a file has the setuid bit" },
  { id: "fs.setgid", severity: "error", summary: "a file has the setgid bit" },
  { id: "fs.capability", severity: "error", summary: "a file has file capabilities (security.capability xattr)" },
  { id: "fs.special", severity: "error", summary: "a named pipe (FIFO) or device file is in the image (caisson release does not carry them over)" },
  { id: "fs.world-writable", severity: "error", summary: "a file or directory is writable by everyone (sticky directories such as /tmp: info)" },
  { id: "fs.user-owned", severity: "error", summary: "a file outside the declared volumes is owned by the runtime user" },
  { id: "fs.user-writable", severity: "error", summary: "a file outside the declared volumes is group-writable by a group of the runtime user" },
  { id: "fs.shell", severity: "error", summary: "a shell is present (sh, bash, dash, busybox, …)" },
  { id: "fs.package-manager", severity: "error", summary: "a package manager is present (apt, dpkg, apk, rpm, …)" },
  { id: "entrypoint.missing", severity: "error", summary: "no entrypoint/cmd, or its program is not in the image" },
  { id: "entrypoint.not-executable", severity: "error", summary: "the entrypoint is not a regular file the runtime user may execute" },
  { id: "healthcheck.missing", severity: "error", summary: "the healthcheck's program (or /bin/sh for CMD-SHELL) is not in the image" },
  { id: "healthcheck.not-executable", severity: "error", summary: "the healthcheck's program is not a regular file the runtime user may execute" },
  { id: "elf.interpreter-missing", severity: "error", summary: "a program's interpreter (PT_INTERP or #!) is not in the image (warning for programs that are not entrypoint/healthcheck)" },
  { id: "elf.library-missing", severity: "error", summary: "a NEEDED library cannot be found in the image (warning for programs that are not entrypoint/healthcheck)" },
  { id: "elf.arch", severity: "error", summary: "an ELF file is for another machine than the image platform" },
  { id: "elf.malformed", severity: "warning", summary: "an ELF file could not be parsed" },
  { id: "elf.pie", severity: "error", summary: "an executable is not position-independent" },
  { id: "elf.relro", severity: "error", summary: "no full RELRO (info for system libraries)" },
  { id: "elf.canary", severity: "error", summary: "no stack protector symbol (info for system libraries)" },
  { id: "elf.nx", severity: "error", summary: "executable stack (PT_GNU_STACK missing or with PF_X)" },
  { id: "elf.fortify", severity: "error", summary: "fortifiable libc functions used, none through __*_chk (info for system libraries)" },
  { id: "elf.rpath", severity: "error", summary: "DT_RPATH or DT_RUNPATH is set" },
  { id: "waiver.unused", severity: "warning", summary: "a waiver matched no finding" },
] as const satisfies readonly RuleInfo[];

export type RuleId = (typeof RULES)[number]["id"];

export const RULE_IDS: ReadonlySet<string> = new Set(RULES.map((r) => r.id));

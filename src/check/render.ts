// Rendering a CheckReport: a readable table, or JSON.

import type { CheckReport, PlatformReport } from "./check.js";
import type { ElfRow, Finding } from "./policy.js";

export interface RenderOptions {
  /** ELF table rows: `all` (default), `flagged` (only files with an unwaived finding), `none`. */
  readonly elves?: "all" | "flagged" | "none";
  /** Also list info findings (system libraries' RELRO/canary, sticky directories). */
  readonly verbose?: boolean;
}

const ROLE: Record<ElfRow["role"], string> = { executable: "exec", library: "lib", "system-library": "syslib", object: "object" };

function table(rows: readonly (readonly string[])[], indent: string): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd());
}

function yn(b: boolean): string {
  return b ? "yes" : "no";
}

function findingLine(f: Finding): string[] {
  const sev = f.waived !== undefined ? "waived" : f.severity;
  return [sev, f.rule, f.path ?? "-", f.message + (f.waived !== undefined ? ` [waived: ${f.waived}]` : "")];
}

function platformSection(p: PlatformReport, opts: RenderOptions): string[] {
  const out: string[] = [];
  const head = [`${p.platform}`];
  if (p.manifestDigest) head.push(`manifest ${p.manifestDigest.slice(0, 19)}…`);
  if (p.user) head.push(`user ${p.user.uid}:${p.user.gid}${p.user.name ? ` (${p.user.name})` : ""}`);
  if (p.entrypoint) head.push(`entrypoint ${p.entrypoint}`);
  if (p.volumes.length) head.push(`volumes ${p.volumes.join(",")}`);
  head.push(`${p.files} files, ${p.elves.length} ELF`);
  out.push(head.join("  "));
  const mode = opts.elves ?? "all";
  const flagged = new Set(p.findings.filter((f) => f.path && f.waived === undefined && f.severity !== "info" && f.rule.startsWith("elf.")).map((f) => f.path!));
  const rows = p.elves.filter((e) => mode === "all" || (mode === "flagged" && flagged.has(e.path)));
  if (mode !== "none" && rows.length > 0) {
    out.push("");
    const data: string[][] = [["FILE", "ROLE", "ARCH", "PIE", "RELRO", "CANARY", "NX", "FORTIFY", "RPATH"]];
    for (const e of rows) {
      const rp = [...e.rpath, ...e.runpath];
      data.push([
        e.path, ROLE[e.role], e.machine, e.role === "executable" ? yn(e.pie) : "-", e.relro, yn(e.canary), yn(e.nx),
        e.fortify === "n/a" ? "n/a" : `${e.fortify} ${e.fortified}/${e.fortifiable}`, rp.length ? rp.join(":") : "no",
      ]);
    }
    out.push(...table(data, "  "));
    if (mode === "flagged" && rows.length < p.elves.length) out.push(`  (${p.elves.length - rows.length} more ELF files without findings)`);
  }
  const shown = p.findings.filter((f) => opts.verbose || f.severity !== "info" || f.waived !== undefined);
  const order = { error: 0, warning: 1, info: 2 } as const;
  shown.sort((a, b) => Number(a.waived !== undefined) - Number(b.waived !== undefined) || order[a.severity] - order[b.severity] || (a.path ?? "").localeCompare(b.path ?? "") || a.rule.localeCompare(b.rule));
  out.push("");
  if (shown.length === 0) out.push("  no violations");
  else out.push(...table(shown.map(findingLine), "  "));
  const c = p.counts;
  out.push(`  ${c.errors} error(s), ${c.warnings} warning(s), ${c.waived} waived, ${c.infos} info${c.infos && !opts.verbose ? " (not shown)" : ""}`);
  return out;
}

/** The report as text: per platform, the ELF table then the findings; waivers; a summary line. */
export function renderReport(report: CheckReport, opts: RenderOptions = {}): string {
  const out: string[] = [];
  out.push(`caisson check ${report.input.kind}:${report.input.ref} (hardening ${report.hardening})`);
  for (const n of report.notes) out.push(`note: ${n}`);
  for (const p of report.platforms) {
    out.push("");
    out.push(...platformSection(p, opts));
  }
  if (report.waivers.length > 0) {
    out.push("");
    out.push("waivers:");
    out.push(...table(report.waivers.map((w) => [w.rule, w.path ?? "*", `used ${w.used}×`, w.reason]), "  "));
  }
  for (const f of report.findings) out.push(`${f.severity}: [${f.rule}] ${f.message}`);
  const s = report.summary;
  out.push("");
  out.push(
    `${report.ok ? "PASS" : "FAIL"}: ${s.platforms} platform(s), ${s.files} files, ${s.elfFiles} ELF; ${s.errors} error(s), ${s.warnings} warning(s), ${s.waived} waived; ${report.timings.totalMs} ms`,
  );
  return out.join("\n") + "\n";
}

/** The report as JSON (stable key order, no file contents). */
export function reportJson(report: CheckReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}

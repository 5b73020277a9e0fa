// `caisson check`, and the check `caisson build` runs on what it produced.
import { statSync } from "node:fs";
import { Option, type Command } from "commander";
import { checkImage, CheckError, renderReport, reportJson, runtimeContract, type CheckInput, type CheckReport, type Waiver } from "../check/index.js";
import { visible } from "../diag/index.js";
import { fsReason, UsageError, writeStdout } from "./io.js";

const KINDS: readonly CheckInput["kind"][] = ["oci-archive", "dir", "engine"];

/**
 * What `ref` names: a file is an OCI archive, a directory a root filesystem, anything else an engine image.
 * The report's own form, `kind:ref` (`engine:caisson/hello:1`, `oci-archive:out/hello.oci.tar`, `dir:out/rootfs`),
 * names the kind outright, unless a file or directory of that very name exists.
 */
export function checkInputFor(ref: string): CheckInput {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(ref, { throwIfNoEntry: false });
  } catch (e) {
    throw new UsageError(`cannot read ${visible(ref)}: ${visible(fsReason(e))} (give an OCI archive, a root filesystem directory or an image in the engine)`);
  }
  if (st && !st.isFile() && !st.isDirectory()) {
    throw new UsageError(`cannot read ${visible(ref)}: is not a regular file or a directory (give an OCI archive, a root filesystem directory or an image in the engine)`);
  }
  const kind = KINDS.find((k) => ref.startsWith(`${k}:`));
  if (!st && kind && ref.length > kind.length + 1) return { kind, ref: ref.slice(kind.length + 1) };
  if (st?.isFile()) return { kind: "oci-archive", ref };
  if (st?.isDirectory()) return { kind: "dir", ref };
  return { kind: "engine", ref };
}

/** `rule[@path]=reason` → a waiver. */
export function parseWaiver(spec: string): Waiver {
  const m = /^([^=@]+)(?:@([^=]+))?=(.+)$/.exec(spec);
  if (!m) throw new UsageError(`--waive ${spec}: write rule[@/path]=reason, e.g. --waive 'elf.canary@/usr/bin/tiny=no arrays, nothing to protect'`);
  return { rule: m[1] as string, ...(m[2] ? { path: m[2] } : {}), reason: m[3] as string };
}

/** Runs the check, prints the report to `out`, and returns it. CheckError becomes a usage error. */
export async function runCheck(
  input: CheckInput,
  opts: { platforms?: readonly string[]; waivers?: readonly Waiver[]; hardening?: "strict" | "none"; format: "text" | "json"; verbose?: boolean },
  out: (s: string) => Promise<void> | void,
): Promise<CheckReport> {
  let report: CheckReport;
  try {
    report = await checkImage(input, {
      ...(opts.platforms ? { platforms: opts.platforms } : {}),
      ...(opts.waivers ? { waivers: opts.waivers } : {}),
      ...(opts.hardening ? { hardening: opts.hardening } : {}),
    });
  } catch (e) {
    if (e instanceof CheckError) throw new UsageError(e.message);
    throw e;
  }
  await out(opts.format === "json" ? reportJson(report) + "\n" : renderReport(report, { verbose: opts.verbose ?? false }) + "\n");
  return report;
}

export function registerCheckCommand(cli: Command, failed: () => Error): void {
  cli
    .command("check")
    .summary("verify the hardening and runtime contract of every platform of an image")
    .description(
      "Verify the hardening of every ELF file (PIE, full RELRO, canary, NX, FORTIFY, no RPATH) and the runtime contract " +
        "(non-root user, no setuid/setgid or file capabilities, nothing world-writable, only volumes writable by the user, " +
        "no shell or package manager, entrypoint and its libraries present, binaries for the image's platform) of every " +
        "platform of an image, without running anything from it. Rules and waivers: docs/check.md.",
    )
    .argument("<image>", "an OCI archive (caisson build -o oci=FILE), a root filesystem directory (-o local=DIR), or an image in the engine")
    .option("--platform <list>", "comma-separated platforms to check (default: all in the image)")
    .option(
      "--waive <rule[@path]=reason>",
      "accept a finding, with the reason printed in the report (repeatable)",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .addOption(new Option("--hardening <level>", "what ELF files must have").choices(["strict", "none"]).default("strict"))
    .option("--contract", "also print the docker run flags, compose snippet and Kubernetes securityContext the image is verified for")
    .option("--verbose", "also list informational findings")
    .addOption(new Option("--format <format>", "readable table or JSON").choices(["text", "json"]).default("text"))
    .addHelpText("after", "\nExit codes: 0 the image passes, 1 a rule is broken (not waived), 2 the image cannot be read.")
    .action(
      async (
        image: string,
        opts: { platform?: string; waive?: string[]; hardening: "strict" | "none"; contract?: boolean; verbose?: boolean; format: "text" | "json" },
      ) => {
        const report = await runCheck(
          checkInputFor(image),
          {
            ...(opts.platform ? { platforms: opts.platform.split(",") } : {}),
            waivers: (opts.waive ?? []).map(parseWaiver),
            hardening: opts.hardening,
            format: opts.format,
            ...(opts.verbose ? { verbose: true } : {}),
          },
          writeStdout,
        );
        const first = report.platforms[0];
        if (opts.contract && first) {
          const user = first.user ? { uid: first.user.uid, gid: first.user.gid } : "0:0";
          await writeStdout("\n" + runtimeContract({ user, volumes: first.volumes }, report.input.kind === "engine" ? { image } : {}) + "\n");
        }
        if (!report.ok) throw failed();
      },
    );
}

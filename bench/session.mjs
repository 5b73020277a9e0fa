// Session benchmark: how fast caisson's client session hands a build context
// to the engine (FileSync), against BuildKit's own Go client doing the same
// through `docker buildx build` (a Dockerfile `FROM scratch` + `COPY . /`),
// measured in the same run. Both solve the same work: send the context, copy
// it into an empty filesystem, export nothing.
//
// "Cold": a directory the engine has never seen (every file is sent).
// "Warm": the same directory again, unchanged (only the listing is sent).
// The context: FILES small files of 16 KiB and BIG files of 8 MiB.
//
// Usage: npm run build && node bench/session.mjs   (RUNS=3 for medians,
// FILES=2000 BIG=8 by default; needs the engine from hack/engine.sh)
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connectBuilder } from "../dist/client/connect.js";
import { createSession } from "../dist/client/session/index.js";
import { Control } from "../dist/gen/buildkit/control/control_pb.js";
import { localSource, marshal, State } from "../dist/llb/index.js";
import { median, ratio, run } from "./lib.mjs";

const RUNS = Number(process.env.RUNS ?? 1);
const FILES = Number(process.env.FILES ?? 2000);
const BIG = Number(process.env.BIG ?? 8);
const DOCKER = process.env.CAISSON_DOCKER ?? process.env.DOCKER ?? "/usr/bin/docker";
const work = mkdtempSync(join(tmpdir(), "caisson-bench-session-"));

/** A fresh context (random bytes, so nothing is deduplicated by content). */
function context(name) {
  const d = join(work, name);
  for (let i = 0; i < FILES; i++) {
    mkdirSync(join(d, `d${i % 50}`), { recursive: true });
    writeFileSync(join(d, `d${i % 50}`, `f${i}`), randomBytes(16 << 10));
  }
  for (let i = 0; i < BIG; i++) writeFileSync(join(d, `big${i}`), randomBytes(8 << 20));
  writeFileSync(join(d, "Dockerfile"), "FROM scratch\nCOPY . /\n");
  return d;
}

async function viaSession(dir) {
  const session = createSession({ locals: { context: { dir } }, auth: false });
  const builder = await connectBuilder();
  try {
    const t0 = performance.now();
    await builder.attach(session);
    const src = State.of(localSource("context", { sharedKeyHint: "context" }));
    const def = marshal(State.scratch().file([{ kind: "copy", source: src.output, src: "/", dest: "/", dirCopyContents: true, createDestPath: true, allowWildcard: true }]));
    await builder.control.call(Control.method.solve, { Ref: `bench-${session.id}`, Definition: def, Session: session.id });
    return (performance.now() - t0) / 1000;
  } finally {
    await session.close();
    await builder.close();
  }
}

function viaBuildx(dir) {
  const t0 = performance.now();
  run(DOCKER, ["buildx", "build", "--progress", "quiet", "--output", "type=cacheonly", dir], { timeout: 10 * 60_000 });
  return (performance.now() - t0) / 1000;
}

const results = { sessionCold: [], sessionWarm: [], buildxCold: [], buildxWarm: [] };
try {
  for (let r = 0; r < RUNS; r++) {
    const a = context(`s${r}`);
    results.sessionCold.push(await viaSession(a));
    results.sessionWarm.push(await viaSession(a));
    const b = context(`b${r}`);
    results.buildxCold.push(viaBuildx(b));
    results.buildxWarm.push(viaBuildx(b));
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
const mib = ((FILES * 16) / 1024 + BIG * 8).toFixed(0);
console.log(`context: ${FILES} files of 16 KiB + ${BIG} of 8 MiB (${mib} MiB), median of ${RUNS}`);
console.log(`cold: session ${m.sessionCold.toFixed(2)} s, buildx ${m.buildxCold.toFixed(2)} s (${ratio(m.sessionCold, m.buildxCold)})`);
console.log(`warm: session ${m.sessionWarm.toFixed(2)} s, buildx ${m.buildxWarm.toFixed(2)} s (${ratio(m.sessionWarm, m.buildxWarm)})`);

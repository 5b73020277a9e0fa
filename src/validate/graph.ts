// The stage graph: cycles among stages, and names nothing in the image
// depends on.
import type { Span } from "../model/index.js";
import type { Context } from "./context.js";

/** Reports each cycle among stages (through `from`, mounts or copies) once, with its path. */
export function cycles(ctx: Context): void {
  const state = new Map<string, "active" | "done">();
  const stack: { name: string; span: Span | undefined }[] = [];
  const reported = new Set<string>();
  const report = (name: string, via: Span | undefined): void => {
    const i = stack.findIndex((s) => s.name === name);
    const cyc = stack.slice(i);
    const key = [...cyc.map((c) => c.name)].sort().join("\0");
    if (reported.has(key)) return;
    reported.add(key);
    const names = [...cyc.map((c) => c.name), name];
    const spans = [...cyc.slice(1).map((c) => c.span), via].filter((s): s is Span => s !== undefined);
    const [primary, ...rest] = spans;
    if (!primary) return;
    ctx.err(
      "stage_cycle",
      names.length === 2 ? `stage "${name}" depends on itself` : `stages form a cycle: ${names.join(" → ")}`,
      primary,
      "a stage can only use stages that do not use it back",
      rest.map((s) => ({ span: s, message: "part of the cycle" })),
    );
  };
  // Depth-first with an explicit stack: a chain of stages as long as the input allows cannot overflow the call stack.
  const frames: { name: string; edges: readonly { to: string; span: Span }[]; next: number }[] = [];
  const enter = (name: string, via: Span | undefined): void => {
    state.set(name, "active");
    stack.push({ name, span: via });
    frames.push({ name, edges: ctx.edges.get(name) ?? [], next: 0 });
  };
  for (const root of ctx.stages.keys()) {
    if (state.has(root)) continue;
    enter(root, undefined);
    while (frames.length > 0) {
      const f = frames[frames.length - 1]!;
      const edge = f.edges[f.next++];
      if (edge === undefined) {
        frames.pop();
        stack.pop();
        state.set(f.name, "done");
        continue;
      }
      const st = state.get(edge.to);
      if (st === "done") continue;
      if (st === "active") report(edge.to, edge.span);
      else enter(edge.to, edge.span);
    }
  }
}

/** Warns about stages and sources nothing in the image depends on. */
export function unused(ctx: Context): void {
  const reach = new Set<string>();
  const todo = [...ctx.imageUses];
  for (let name = todo.pop(); name !== undefined; name = todo.pop()) {
    if (reach.has(name)) continue;
    reach.add(name);
    for (const n of ctx.used.get(name) ?? []) todo.push(n);
  }
  for (const [name, e] of ctx.stages) {
    if (!reach.has(name)) ctx.warn("unused_stage", `stage "${name}" is not used by the image`, e.keySpan, "copy from it in image.copy, or remove it");
  }
  for (const [name, e] of ctx.sources) {
    if (!reach.has(name)) ctx.warn("unused_source", `source "${name}" is not used`, e.keySpan, "mount it in a stage, copy from it, or remove it");
  }
  for (const [name, e] of ctx.imports) {
    if (!reach.has(name)) ctx.warn("unused_import", `import "${name}" is not used`, e.keySpan, `start a stage or the image from it (from: ${name}), or remove it`);
  }
}


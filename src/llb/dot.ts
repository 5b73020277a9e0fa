import type { Definition } from "../gen/buildkit/pb/ops_pb.js";
import { checkStructure } from "./dump.js";

function label(kind: string, detail: string): string {
  return `${kind}\\n${detail.replace(/\\/g, "\\\\").replace(/"/g, '\\"').slice(0, 80)}`;
}

/** A Graphviz DOT rendering of a definition: one node per op, edges from inputs to users. */
export function definitionToDot(def: Definition): string {
  const ops = checkStructure(def);
  const lines = ["digraph llb {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];'];
  for (const { digest, op } of ops) {
    const name = def.metadata[digest]?.description["llb.customname"];
    const id = digest.slice(7, 19);
    let text: string;
    switch (op.op.case) {
      case "source":
        text = label("source", name ?? op.op.value.identifier);
        break;
      case "exec":
        text = label("exec", name ?? op.op.value.meta?.args.join(" ") ?? "");
        break;
      case "file":
        text = label("file", name ?? op.op.value.actions.map((a) => a.action.case).join(", "));
        break;
      case "merge":
      case "diff":
        text = label(op.op.case, name ?? "");
        break;
      case undefined:
        text = "result";
        break;
    }
    lines.push(`  "${id}" [label="${text}"];`);
    for (const input of op.inputs) lines.push(`  "${input.digest.slice(7, 19)}" -> "${id}";`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

// Control.Status, displayed: a live terminal view (like buildx's tty mode),
// buildx's plain shape (`#N name`, `#N 0.123 log`, `#N DONE 0.1s`), or one
// JSON object per status message for tools.
import { toJsonString } from "@bufbuild/protobuf";
import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { StatusResponseSchema, type StatusResponse } from "../gen/buildkit/control/control_pb.js";
import { visible } from "../diag/index.js";

export type ProgressMode = "auto" | "tty" | "plain" | "json" | "quiet";

interface VertexState {
  readonly n: number;
  readonly digest: string;
  name: string;
  started?: number;
  completed?: number;
  cached: boolean;
  error: string;
  /** Log lines, each complete (a partial last line is kept in `partial`). */
  logs: { at: number; text: string }[];
  partial: string;
  statuses: Map<string, { name: string; current: bigint; total: bigint; started?: number; completed?: number }>;
}

const ms = (t: Timestamp | undefined): number | undefined => (t ? timestampMs(t) : undefined);
const secs = (a: number, b: number): string => `${(Math.max(0, b - a) / 1000).toFixed(1)}s`;

/** The build's vertices as the status stream describes them. */
export class ProgressState {
  readonly vertices = new Map<string, VertexState>();
  readonly order: VertexState[] = [];
  readonly t0 = Date.now();

  private vertex(digest: string): VertexState {
    let v = this.vertices.get(digest);
    if (!v) {
      v = { n: this.order.length + 1, digest, name: "", cached: false, error: "", logs: [], partial: "", statuses: new Map() };
      this.vertices.set(digest, v);
      this.order.push(v);
    }
    return v;
  }

  /** Applies one status message; returns what changed, in order, for streaming displays. */
  apply(s: StatusResponse): { kind: "vertex" | "status" | "log"; v: VertexState; text?: string }[] {
    const changes: { kind: "vertex" | "status" | "log"; v: VertexState; text?: string }[] = [];
    for (const x of s.vertexes) {
      const v = this.vertex(x.digest);
      v.name = x.name || v.name;
      const st = ms(x.started);
      const co = ms(x.completed);
      if (st !== undefined) v.started = st;
      if (co !== undefined) v.completed = co;
      v.cached = x.cached;
      v.error = x.error;
      changes.push({ kind: "vertex", v });
    }
    for (const x of s.statuses) {
      const v = this.vertex(x.vertex);
      const st = ms(x.started);
      const co = ms(x.completed);
      v.statuses.set(x.ID, { name: x.name || x.ID, current: x.current, total: x.total, ...(st !== undefined ? { started: st } : {}), ...(co !== undefined ? { completed: co } : {}) });
      changes.push({ kind: "status", v, text: x.ID });
    }
    for (const x of s.logs) {
      const v = this.vertex(x.vertex);
      const at = ms(x.timestamp) ?? Date.now();
      const parts = (v.partial + new TextDecoder().decode(x.msg)).split(/\r?\n/);
      v.partial = parts.pop() ?? "";
      for (const text of parts) {
        v.logs.push({ at, text });
        if (v.logs.length > 200) v.logs.shift();
        changes.push({ kind: "log", v, text });
      }
    }
    return changes;
  }

  /** The vertex that failed (the first with an error), and its last output lines. */
  failed(): { name: string; error: string; logs: string[] } | undefined {
    const v = this.order.find((x) => x.error && !/context canceled/.test(x.error)) ?? this.order.find((x) => x.error);
    if (!v) return undefined;
    const logs = v.logs.map((l) => l.text);
    if (v.partial) logs.push(v.partial);
    return { name: v.name, error: v.error, logs };
  }
}

export interface Display {
  update(s: StatusResponse): void;
  /** Prints what is left (the final frame); idempotent. */
  done(): void;
  readonly state: ProgressState;
}

/** buildx's plain progress: one block of lines per vertex as it changes. */
function plainDisplay(write: (s: string) => void, state: ProgressState): Display {
  let last: VertexState | undefined;
  // A DONE waits a moment: BuildKit may report a vertex complete and then failed (an http
  // source's checksum), and buildx, printing at intervals, shows only the ERROR.
  const pending = new Map<VertexState, NodeJS.Timeout>();
  const printDone = (v: VertexState) => {
    pending.delete(v);
    const p = mark(v);
    if (p.failed) return;
    write(`#${v.n} DONE ${secs(v.started ?? (v.completed as number), v.completed as number)}\n`);
  };
  const printed = new Map<VertexState, { done: boolean; failed: boolean; statuses: Set<string> }>();
  const mark = (v: VertexState) => {
    let p = printed.get(v);
    if (!p) printed.set(v, (p = { done: false, failed: false, statuses: new Set() }));
    if (last !== v) {
      if (last) write("\n");
      last = v;
      write(`#${v.n} ${visible(v.name)}\n`);
    }
    return p;
  };
  return {
    state,
    update(s) {
      for (const c of state.apply(s)) {
        const v = c.v;
        if (!v.name) continue;
        const p = printed.get(v);
        if (c.kind === "vertex") {
          // An error may come after the vertex was reported done: it is still printed, once.
          if (v.error) {
            if (p?.failed) continue;
            clearTimeout(pending.get(v));
            pending.delete(v);
            const q = mark(v);
            q.done = q.failed = true;
            write(`#${v.n} ERROR: ${visible(v.error)}\n`);
          } else if (p?.done) continue;
          else if (v.cached) {
            mark(v).done = true;
            write(`#${v.n} CACHED\n`);
          } else if (v.completed !== undefined) {
            mark(v).done = true;
            pending.set(v, setTimeout(() => printDone(v), 200));
          } else if (!p) mark(v);
        } else if (c.kind === "status") {
          const st = v.statuses.get(c.text as string);
          if (!st || st.completed === undefined || p?.statuses.has(c.text as string)) continue;
          const q = mark(v);
          q.statuses.add(c.text as string);
          const size = st.total > 0n ? ` ${st.current}/${st.total}` : st.current > 0n ? ` ${st.current}` : "";
          write(`#${v.n} ${visible(st.name)}${size} ${secs(st.started ?? st.completed, st.completed)} done\n`);
        } else {
          mark(v);
          const at = v.logs[v.logs.length - 1]?.at ?? Date.now();
          write(`#${v.n} ${((at - (v.started ?? at)) / 1000).toFixed(3)} ${visible(c.text ?? "")}\n`);
        }
      }
    },
    done() {
      for (const [v, t] of pending) {
        clearTimeout(t);
        printDone(v);
      }
      if (last) write("\n");
      last = undefined;
    },
  };
}

/** One JSON object per status message (`"type": "status"` and the protobuf JSON: log bytes as base64), one per line. */
function jsonDisplay(write: (s: string) => void, state: ProgressState): Display {
  return {
    state,
    update(s) {
      state.apply(s);
      const body = toJsonString(StatusResponseSchema, s);
      write(`{"type":"status"${body === "{}" ? "}" : `,${body.slice(1)}`}\n`);
    },
    done() {},
  };
}

/** A live view redrawn in place: a header with the elapsed time, a line per step with its time, the running steps' last log lines. */
function ttyDisplay(out: NodeJS.WriteStream, state: ProgressState): Display {
  let lines = 0;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const render = (final: boolean) => {
    const now = Date.now();
    const width = Math.max(40, out.columns ?? 100);
    const height = Math.max(10, (out.rows ?? 30) - 2);
    const named = state.order.filter((v) => v.name);
    const doneCount = named.filter((v) => v.completed !== undefined || v.cached).length;
    const rows: string[] = [];
    const title = `[+] Building ${secs(state.t0, now)} (${doneCount}/${named.length})${final ? " FINISHED" : ""}`;
    for (const v of named) {
      if (v.started === undefined && !v.cached && v.completed === undefined) continue;
      const running = v.completed === undefined && !v.cached;
      const status = v.cached ? "CACHED " : v.error ? "ERROR " : "";
      const time = v.cached ? "" : secs(v.started ?? now, v.completed ?? now);
      const name = visible(v.name);
      const left = ` => ${status}${name}`;
      const clipped = left.length + time.length + 1 > width ? left.slice(0, Math.max(10, width - time.length - 2)) : left;
      rows.push(`${clipped}${" ".repeat(Math.max(1, width - clipped.length - time.length))}${time}`);
      if (running || v.error) {
        for (const l of v.logs.slice(-(running ? 6 : 10))) rows.push(` => => # ${visible(l.text)}`.slice(0, width));
      }
    }
    const shown = final ? rows : rows.slice(-(height - 1));
    let s = lines > 0 ? `\x1b[${lines}A` : "";
    for (const r of [title, ...shown]) s += `\x1b[2K${r}\n`;
    // Lines of the previous frame below this one are cleared.
    const extra = Math.max(0, lines - shown.length - 1);
    for (let i = 0; i < extra; i++) s += "\x1b[2K\n";
    if (extra > 0) s += `\x1b[${extra}A`;
    out.write(s);
    lines = shown.length + 1;
  };
  return {
    state,
    update(s) {
      state.apply(s);
      if (!timer && !finished) {
        timer = setInterval(() => render(false), 150);
        render(false);
      }
    },
    done() {
      if (finished) return;
      finished = true;
      if (timer) clearInterval(timer);
      render(true);
    },
  };
}

/** The display for a mode; `auto` is tty on a terminal, plain otherwise. Plain starts, as buildx does, with `#0 building with <builder>`. */
export function progressDisplay(mode: ProgressMode, out: NodeJS.WriteStream = process.stderr, builder = "BuildKit"): Display {
  const state = new ProgressState();
  const write = (s: string) => void out.write(s);
  const m = mode === "auto" ? (out.isTTY ? "tty" : "plain") : mode;
  if (m === "tty") return ttyDisplay(out, state);
  if (m === "plain") {
    write(`#0 building with ${visible(builder)}\n\n`);
    return plainDisplay(write, state);
  }
  if (m === "json") return jsonDisplay(write, state);
  return { state, update: (s) => void state.apply(s), done() {} };
}

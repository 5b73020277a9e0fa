import { ExecVertex, type MountSpec, type NetworkMode } from "./exec.js";
import { FileVertex, type FileAction } from "./file.js";
import { DiffVertex, MergeVertex } from "./merge.js";
import type { Platform } from "./platform.js";
import type { Constraints, Output, Vertex } from "./vertex.js";

interface Settings {
  readonly env: readonly (readonly [string, string])[];
  readonly dir: string;
  readonly user?: string;
  readonly platform?: Platform;
  readonly network: NetworkMode;
}

const DEFAULTS: Settings = { env: [], dir: "/", network: "sandbox" };

export interface RunOptions extends Constraints {
  /** Mounts besides the root filesystem (which is this state). */
  readonly mounts?: readonly MountSpec[];
  readonly hostname?: string;
}

/**
 * An immutable point in the graph: a filesystem (an output, or scratch) plus
 * the settings later commands inherit (env, working directory, user,
 * platform, network). Every method returns a new State.
 */
export class State {
  protected constructor(
    readonly output: Output | undefined,
    private readonly settings: Settings,
  ) {}

  /** The empty filesystem. */
  static scratch(): State {
    return new State(undefined, DEFAULTS);
  }

  /** Output `index` of `vertex`. */
  static of(vertex: Vertex, index = 0): State {
    return new State({ vertex, index }, DEFAULTS);
  }

  get env(): readonly (readonly [string, string])[] {
    return this.settings.env;
  }
  get dir(): string {
    return this.settings.dir;
  }
  get user(): string | undefined {
    return this.settings.user;
  }
  get platform(): Platform | undefined {
    return this.settings.platform;
  }

  private with(patch: Partial<Settings>): State {
    return new State(this.output, { ...this.settings, ...patch });
  }

  /** Sets (or replaces, keeping its position) one environment variable. */
  withEnv(key: string, value: string): State {
    const env = this.settings.env.some(([k]) => k === key)
      ? this.settings.env.map(([k, v]) => (k === key ? ([k, value] as const) : ([k, v] as const)))
      : [...this.settings.env, [key, value] as const];
    return this.with({ env });
  }

  withDir(dir: string): State {
    return this.with({ dir });
  }

  withUser(user: string): State {
    return this.with({ user });
  }

  withPlatform(platform: Platform): State {
    return this.with({ platform });
  }

  withNetwork(network: NetworkMode): State {
    return this.with({ network });
  }

  /** The same settings on another filesystem. */
  withOutput(output: Output | undefined): State {
    return new State(output, this.settings);
  }

  /** Runs `args` with this state as the root filesystem. */
  run(args: readonly string[], opts: RunOptions = {}): ExecState {
    const s = this.settings;
    const vertex = new ExecVertex({
      ...opts,
      args,
      env: s.env.map(([k, v]) => `${k}=${v}`),
      cwd: s.dir,
      ...(s.user !== undefined ? { user: s.user } : {}),
      ...(s.platform ? { platform: s.platform } : {}),
      network: s.network,
      mounts: [
        this.output ? { type: "bind", dest: "/", source: this.output } : { type: "bind", dest: "/" },
        ...(opts.mounts ?? []),
      ],
    });
    return new ExecState(vertex, s);
  }

  /** Applies file actions, in order, to this filesystem. */
  file(actions: readonly FileAction[], constraints: Constraints = {}): State {
    return this.withOutput({ vertex: new FileVertex(this.output, actions, constraints), index: 0 });
  }
}

/** The result of `State.run`: the new root, and any other writable mount. */
export class ExecState extends State {
  constructor(
    readonly exec: ExecVertex,
    settings: Settings,
  ) {
    super(exec.output("/"), settings);
  }

  /** What the command left in the writable bind mount at `dest`. */
  mount(dest: string): State {
    return this.withOutput(this.exec.output(dest));
  }
}

/** Layers states, later ones on top (BuildKit's MergeOp). Scratch layers are dropped. */
export function merge(states: readonly State[], constraints: Constraints = {}): State {
  const outputs = states.map((s) => s.output).filter((o): o is Output => o !== undefined);
  const first = states[0] ?? State.scratch();
  if (outputs.length === 0) return first.withOutput(undefined);
  if (outputs.length === 1) return first.withOutput(outputs[0]);
  return first.withOutput({ vertex: new MergeVertex(outputs, constraints), index: 0 });
}

/** The changes from `lower` to `upper` (BuildKit's DiffOp). */
export function diff(lower: State, upper: State, constraints: Constraints = {}): State {
  return upper.withOutput({ vertex: new DiffVertex(lower.output, upper.output, constraints), index: 0 });
}

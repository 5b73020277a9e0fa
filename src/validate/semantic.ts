// Semantic pass: walks the tree (tolerating whatever the schema already
// reported), builds the normalised ImageDefinition and reports what a schema
// cannot: references, cycles, platforms, image refs, paths, ports, durations,
// root without a reason, weakened runtime settings, unused stages, sources and
// imports. Imported definitions are not read here (resolving them is I/O).
import { closest, error, warning } from "../diag/index.js";
import type { Diagnostic, RelatedSpan } from "../diag/index.js";
import { child, entry } from "../load/index.js";
import type { LoadedDocument, MapEntry, MapNode, ScalarNode, YamlNode } from "../load/index.js";
import type {
  CopySpec,
  DebianPackage,
  FromRef,
  Healthcheck,
  ImageDefinition,
  Import,
  Located,
  MountSpec,
  MovingRef,
  ReleaseRule,
  Patch,
  Platform,
  RuntimeImage,
  RuntimeUser,
  SourceSpec,
  Span,
  Stage,
  StageCopy,
  StagePackages,
  Toolchain,
  Waiver,
  Hardening,
} from "../model/index.js";
import { dpkgArch } from "../model/index.js";
import { RULE_IDS } from "../check/rules.js";
import {
  CAPABILITIES,
  checkAbsolutePath,
  checkContextPath,
  checkImportPath,
  parseDebianPackage,
  parseDebianSource,
  parseDuration,
  parseImageRef,
  parsePlatform,
  parsePort,
  platformString,
} from "./refs.js";
import type { ParseResult } from "./refs.js";

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const DEFAULT_UID = 65532;
const DEFAULT_USER_NAME = "caisson";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Scalar accessors: undefined when the node has another type (the schema reported it). */
function scalar(n: YamlNode | undefined): ScalarNode | undefined {
  return n?.kind === "scalar" ? n : undefined;
}
function str(n: YamlNode | undefined): string | undefined {
  const s = scalar(n);
  return typeof s?.value === "string" ? s.value : undefined;
}
/** A string, or a number/boolean kept exactly as written (`7.0` → "7.0"). */
function text(n: YamlNode | undefined): string | undefined {
  const s = scalar(n);
  if (!s || s.value === null) return undefined;
  return typeof s.value === "string" ? s.value : s.text || String(s.value);
}
function bool(n: YamlNode | undefined, dflt: boolean): boolean {
  const s = scalar(n);
  return typeof s?.value === "boolean" ? s.value : dflt;
}
function int(n: YamlNode | undefined): number | undefined {
  const s = scalar(n);
  return typeof s?.value === "number" && Number.isInteger(s.value) ? s.value : undefined;
}
function map(n: YamlNode | undefined): MapNode | undefined {
  return n?.kind === "map" ? n : undefined;
}
function items(n: YamlNode | undefined): readonly YamlNode[] {
  return n?.kind === "seq" ? n.items : [];
}
function oneOfStr<T extends string>(n: YamlNode | undefined, allowed: readonly T[], dflt: T): T {
  const v = str(n);
  return v !== undefined && (allowed as readonly string[]).includes(v) ? (v as T) : dflt;
}

/** Builds the model; `ok` stays true only if no error was reported by this pass. */
class Builder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly sources = new Map<string, MapEntry>();
  private readonly imports = new Map<string, MapEntry>();
  private readonly stages = new Map<string, MapEntry>();
  /** Stage → stages it depends on, with the span of each reference. */
  private readonly edges = new Map<string, { to: string; span: Span }[]>();
  /** Names referred to from anywhere (for unused warnings). */
  private readonly used = new Map<string, Set<string>>();
  private readonly imageUses = new Set<string>();
  /** References written without a pin, in the order written. */
  private readonly moving: MovingRef[] = [];
  /** dpkg architectures of the definition's platforms (the list form of `packages:` is pinned for each). */
  private targetArches: string[] = [];

  constructor(private readonly doc: LoadedDocument) {}

  private err(code: string, message: string, span: Span, hint?: string, related?: RelatedSpan[]): void {
    this.diagnostics.push(error(code, message, span, { hint, related }));
  }
  private warn(code: string, message: string, span: Span, hint?: string): void {
    this.diagnostics.push(warning(code, message, span, { hint }));
  }
  private check<T>(r: ParseResult<T>, code: string, span: Span): T | undefined {
    if (r.ok) return r.value;
    this.err(code, r.message, span, r.hint);
    return undefined;
  }

  build(): ImageDefinition | undefined {
    const root = map(this.doc.root);
    if (!root) return undefined;
    for (const e of map(child(root, "sources"))?.entries ?? []) this.sources.set(e.key, e);
    for (const e of map(child(root, "imports"))?.entries ?? []) {
      this.imports.set(e.key, e);
      if (e.key === "scratch") this.err("reserved_name", `"scratch" cannot name an import`, e.keySpan, "it means the empty image; choose another name");
      const src = this.sources.get(e.key);
      if (src) {
        this.err("name_conflict", `"${e.key}" names both a source and an import`, e.keySpan, "rename one of them; sources, stages and imports share one namespace", [
          { span: src.keySpan, message: "source defined here" },
        ]);
      }
    }
    for (const e of map(child(root, "stages"))?.entries ?? []) {
      this.stages.set(e.key, e);
      if (e.key === "scratch") this.err("reserved_name", `"scratch" cannot name a stage`, e.keySpan, "it means the empty image; choose another name");
      const src = this.sources.get(e.key);
      if (src) {
        this.err("name_conflict", `"${e.key}" names both a source and a stage`, e.keySpan, "rename one of them", [
          { span: src.keySpan, message: "source defined here" },
        ]);
      }
      const imp = this.imports.get(e.key);
      if (imp) {
        this.err("name_conflict", `"${e.key}" names both an import and a stage`, e.keySpan, "rename one of them; sources, stages and imports share one namespace", [
          { span: imp.keySpan, message: "import defined here" },
        ]);
      }
    }

    const name = str(child(root, "name"));
    const version = text(child(root, "version"));
    const platforms = this.platforms(child(root, "platforms"));
    this.targetArches = [...new Set((platforms ?? []).map(dpkgArch))];
    const imports = [...this.imports.values()].map((e) => this.import(e));
    const sources = [...this.sources.values()].map((e) => this.source(e));
    const stages = [...this.stages.values()].map((e) => this.stage(e));
    const imageEntry = entry(root, "image");
    const image = imageEntry ? this.image(imageEntry) : undefined;
    this.cycles();
    this.unused();

    if (name === undefined || platforms === undefined || image === undefined) return undefined;
    if (sources.some((s) => s === undefined) || stages.some((s) => s === undefined) || imports.some((s) => s === undefined)) return undefined;
    const def: Mutable<ImageDefinition> = {
      file: this.doc.file,
      text: this.doc.text,
      name,
      platforms,
      imports: imports as Import[],
      sources: sources as SourceSpec[],
      stages: stages as Stage[],
      image,
    };
    if (version !== undefined) def.version = version;
    if (this.moving.length > 0) def.moving = [...this.moving].sort((a, b) => a.span.start - b.span.start);
    return def;
  }

  private platforms(n: YamlNode | undefined): Platform[] | undefined {
    if (n?.kind !== "seq") return undefined;
    const out: Platform[] = [];
    const seen = new Map<string, Span>();
    for (const it of n.items) {
      const t = str(it);
      if (t === undefined) continue;
      const p = this.check(parsePlatform(t), "invalid_platform", it.span);
      if (!p) continue;
      const key = platformString(p);
      const first = seen.get(key);
      if (first) {
        this.err("duplicate_platform", `platform ${key} is listed twice`, it.span, "remove one", [{ span: first, message: "first listed here" }]);
        continue;
      }
      seen.set(key, it.span);
      out.push(p);
    }
    return out;
  }

  /** An import: only its path is checked; the imported file is read by the resolve step. */
  private import(e: MapEntry): Import | undefined {
    const p = str(e.value);
    if (p === undefined) return undefined; // the schema reported the type
    const path = this.check(checkImportPath(p), "invalid_path", e.value.span);
    if (path === undefined) return undefined;
    return { name: e.key, path, span: e.span };
  }

  private source(e: MapEntry): SourceSpec | undefined {
    const n = map(e.value);
    if (!n) return undefined;
    const name = e.key;
    const span = e.span;
    if (entry(n, "url")) {
      const urlNode = child(n, "url");
      const url = str(urlNode);
      const sha256 = str(child(n, "sha256"));
      if (url === undefined || !/^https?:\/\/\S+$/.test(url)) return undefined; // the schema reported it
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        parsed = undefined;
      }
      if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:") || parsed.hostname === "") {
        this.err("invalid_url", `source "${name}": "${url}" is not a valid http:// or https:// URL`, urlNode?.span ?? span, "write https://host/path");
        return undefined;
      }
      if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
      const release = this.release(n, "listing");
      if (release === null) return undefined;
      let filename = str(child(n, "filename"));
      if (filename === undefined) {
        const last = url.replace(/[?#].*$/, "").replace(/^https?:\/\/[^/]*/, "").split("/").pop() ?? "";
        let decoded = last;
        try {
          decoded = decodeURIComponent(last);
        } catch {
          /* keep it encoded */
        }
        if (decoded === "" || decoded === "." || decoded === ".." || decoded.includes("/")) {
          this.err("missing_filename", `cannot derive a file name from the URL of source "${name}"`, child(n, "url")?.span ?? span, "add filename: <name>");
          return undefined;
        }
        filename = decoded;
      } else if (filename.includes("/") || filename === "." || filename === "..") {
        this.err("invalid_filename", `filename "${filename}" must be a plain file name`, child(n, "filename")?.span ?? span, "remove the directory part");
        return undefined;
      }
      if (sha256 === undefined) this.moving.push({ kind: "http", source: name, url, span: urlNode?.span ?? span });
      const spec: Mutable<Extract<SourceSpec, { kind: "http" }>> = { kind: "http", name, url, sha256: sha256 ?? "", filename, extract: bool(child(n, "extract"), false), span };
      if (release) spec.release = release;
      return spec;
    }
    if (entry(n, "debian")) {
      const debian = str(child(n, "debian"));
      const fileNode = child(n, "file");
      const file = str(fileNode);
      const sha256 = str(child(n, "sha256"));
      if (debian === undefined || !parseDebianSource(debian).ok) return undefined; // the schema reported it
      if (file !== undefined && (file.includes("/") || file.includes("\\") || file === "." || file === "..")) {
        const base = file.split(/[/\\]/).filter(Boolean).pop();
        this.err(
          "invalid_filename",
          `file "${file}" must be a plain file name`,
          fileNode?.span ?? span,
          base !== undefined && base !== "." && base !== ".." ? `the file's name in the source package, without the archive's directory: write "${base}"` : "give the file's name in the source package",
        );
        return undefined;
      }
      if (file === undefined || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
      return { kind: "http", name, debian, sha256, filename: file, extract: bool(child(n, "extract"), false), span };
    }
    if (entry(n, "git")) {
      const url = str(child(n, "git"));
      const commit = str(child(n, "commit"));
      const refNode = child(n, "ref");
      const ref = str(refNode);
      if (url === undefined) return undefined;
      if (commit === undefined && entry(n, "commit") === undefined && ref === undefined) {
        if (entry(n, "ref") === undefined) {
          this.err("unpinned_source", `source "${name}" is not pinned: it has a git url but neither commit nor ref`, e.keySpan, "add ref: <branch or tag> and run `caisson lock <file>` to pin it, or commit: <full 40-hex commit id>");
        }
        return undefined;
      }
      if (commit !== undefined && !/^[0-9a-f]{40}$/.test(commit)) return undefined; // the schema reported it
      if (commit === undefined && ref === undefined) return undefined;
      const release = this.release(n, "git-tags");
      if (release === null) return undefined;
      if (commit === undefined && ref !== undefined) this.moving.push({ kind: "git", source: name, url, ref, span: refNode?.span ?? span });
      const spec: Mutable<Extract<SourceSpec, { kind: "git" }>> = { kind: "git", name, url, commit: commit ?? "", keepGitDir: bool(child(n, "keepGitDir"), false), span };
      if (ref !== undefined) spec.ref = ref;
      if (release) spec.release = release;
      return spec;
    }
    if (entry(n, "path")) {
      const p = str(child(n, "path"));
      if (p === undefined) return undefined;
      const path = this.check(checkContextPath(p), "invalid_path", child(n, "path")?.span ?? span);
      if (path === undefined) return undefined;
      const exclude = items(child(n, "exclude")).map(str).filter((x): x is string => x !== undefined);
      return { kind: "local", name, path, exclude, span };
    }
    return undefined;
  }

  /** A source's `release:` rule: undefined when absent, null when invalid (reported). */
  private release(n: MapNode, kind: ReleaseRule["kind"]): ReleaseRule | undefined | null {
    const e = entry(n, "release");
    const m = map(e?.value);
    if (!e) return undefined;
    if (!m) return null; // the schema reported the type
    const patNode = child(m, kind === "git-tags" ? "tags" : "pattern");
    const pattern = str(patNode);
    if (pattern === undefined || patNode === undefined) return null;
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch (err) {
      this.err("invalid_pattern", `release pattern ${JSON.stringify(pattern)} is not a regular expression: ${(err as Error).message}`, patNode.span);
      return null;
    }
    if (new RegExp(`${re.source}|`).exec("")?.length === 1) {
      this.err("invalid_pattern", `release pattern ${JSON.stringify(pattern)} has no group for the version`, patNode.span, "put the version in parentheses, e.g. v?(\\d+\\.\\d+\\.\\d+)");
      return null;
    }
    if (kind === "git-tags") return { kind, pattern, span: e.span };
    const listing = str(child(m, "listing"));
    if (listing === undefined) return null;
    return { kind, url: listing, pattern, span: e.span };
  }

  /** Resolves `from:` of a stage (`owner`) or of the image (owner undefined). */
  private from(n: YamlNode | undefined, fallback: Span, owner: string | undefined): FromRef | undefined {
    if (n === undefined) return { kind: "scratch", span: fallback };
    const t = str(n);
    if (t === undefined) return undefined;
    const span = n.span;
    if (t === "scratch") return { kind: "scratch", span };
    if (this.stages.has(t)) {
      this.use(owner, t, span);
      return { kind: "stage", name: t, span };
    }
    if (this.imports.has(t)) {
      this.use(owner, t, span);
      return { kind: "import", name: t, span };
    }
    if (NAME.test(t) && !/[/:@]/.test(t)) {
      const names = [...this.stages.keys()];
      const imports = [...this.imports.keys()];
      const guess = closest(t, [...names, ...imports]);
      const isSource = this.sources.has(t);
      const needs = imports.length ? "a stage, an import or an image" : "a stage or an image";
      const known = [names.length ? `stages are ${names.join(", ")}` : "", imports.length ? `imports are ${imports.join(", ")}` : ""].filter(Boolean).join("; ");
      this.err(
        "unknown_stage",
        isSource ? `"${t}" is a source, not a stage; \`from\` needs ${needs}` : imports.length ? `no stage or import named "${t}"` : `stage "${t}" not found`,
        span,
        guess !== undefined
          ? `did you mean "${guess}"?`
          : isSource
            ? `mount the source instead: mounts: { /src: ${t} }`
            : `to use an image, give its tag and digest: ${t}:<tag>@sha256:<digest>${known ? `; ${known}` : ""}`,
      );
      return undefined;
    }
    const r = parseImageRef(t);
    if (!r.ok) {
      this.err(r.code, r.message, span, r.hint);
      return undefined;
    }
    if (r.value.digest === undefined) {
      this.warn("unpinned_image", `image "${t}" is not pinned by digest`, span, `pin it: ${t}@sha256:<digest>, or run \`caisson lock <file>\` to pin it in the lockfile`);
      this.moving.push({ kind: "image", ref: r.value.ref, span });
    }
    return { kind: "image", ref: r.value.ref, span };
  }

  /** Records that `owner` (a stage, or the image when undefined) depends on `name`. */
  private use(owner: string | undefined, name: string, span: Span): void {
    if (owner === undefined) {
      this.imageUses.add(name);
      return;
    }
    const set = this.used.get(owner) ?? new Set<string>();
    set.add(name);
    this.used.set(owner, set);
    if (this.stages.has(name)) {
      const list = this.edges.get(owner) ?? [];
      list.push({ to: name, span });
      this.edges.set(owner, list);
    }
  }

  /** A source or stage name referred to by a mount or copy. */
  private ref(n: YamlNode | undefined, owner: string | undefined): { from: string; fromKind: "source" | "stage" } | undefined {
    const t = str(n);
    if (t === undefined || n === undefined) return undefined;
    if (this.stages.has(t)) {
      this.use(owner, t, n.span);
      return { from: t, fromKind: "stage" };
    }
    if (this.sources.has(t)) {
      this.use(owner, t, n.span);
      return { from: t, fromKind: "source" };
    }
    if (this.imports.has(t)) {
      this.err(
        "unknown_source_or_stage",
        `"${t}" is an import, not a source or stage`,
        n.span,
        `start a stage from it (from: ${t}) and use that stage here`,
      );
      return undefined;
    }
    const guess = closest(t, [...this.sources.keys(), ...this.stages.keys()]);
    this.err("unknown_source_or_stage", `no source or stage named "${t}"`, n.span, guess !== undefined ? `did you mean "${guess}"?` : this.knownNames());
    return undefined;
  }

  /** The source a patch comes from; patches cannot come from stages (they are pinned files of an input). */
  private patchSource(n: YamlNode | undefined, owner: string): string | undefined {
    const t = str(n);
    if (t === undefined || n === undefined) return undefined;
    if (this.sources.has(t)) {
      this.use(owner, t, n.span);
      return t;
    }
    if (this.stages.has(t) || this.imports.has(t)) {
      const what = this.stages.has(t) ? "a stage" : "an import";
      this.err(
        "patch_needs_source",
        `a patch must come from a source; "${t}" is ${what}`,
        n.span,
        this.stages.has(t)
          ? `keep the patch in a source (e.g. sources: { patches: { path: patches } }), or copy it in with copy: [{ from: ${t}, src: …, dest: … }] and apply it in run:`
          : "keep the patch in a source, e.g. sources: { patches: { path: patches } }",
      );
      return undefined;
    }
    const names = [...this.sources.keys()];
    const guess = closest(t, names);
    this.err(
      "unknown_source",
      `no source named "${t}"`,
      n.span,
      guess !== undefined ? `did you mean "${guess}"?` : names.length ? `sources are ${names.join(", ")}` : "define it under sources:",
    );
    return undefined;
  }

  private knownNames(): string | undefined {
    const s = [...this.sources.keys()];
    const t = [...this.stages.keys()];
    if (s.length + t.length === 0) return "define it under sources: or stages:";
    return [s.length ? `sources are ${s.join(", ")}` : "", t.length ? `stages are ${t.join(", ")}` : ""].filter(Boolean).join("; ");
  }

  private absPath(n: YamlNode | undefined, what: string): string | undefined {
    const t = str(n);
    if (t === undefined || n === undefined) return undefined;
    const r = checkAbsolutePath(t);
    if (r.ok) return r.value;
    this.err("invalid_path", `${what}: ${r.message}`, n.span, r.hint);
    return undefined;
  }

  private env(n: YamlNode | undefined): [string, string][] {
    const out: [string, string][] = [];
    for (const e of map(n)?.entries ?? []) {
      const v = text(e.value);
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.key) && v !== undefined) out.push([e.key, v]);
      else if (v !== undefined && e.value.kind === "scalar") continue;
    }
    return out;
  }

  private stage(e: MapEntry): Stage | undefined {
    const n = map(e.value);
    if (!n) return undefined;
    const name = e.key;
    const from = this.from(child(n, "from"), e.keySpan, name);
    if (child(n, "from") === undefined) return undefined; // schema reported the missing key
    const mounts: MountSpec[] = [];
    let mountsOk = true;
    for (const m of map(child(n, "mounts"))?.entries ?? []) {
      const spec = this.mount(m, name);
      if (spec) mounts.push(spec);
      else mountsOk = false;
    }
    const copy: StageCopy[] = [];
    let copyOk = true;
    for (const it of items(child(n, "copy"))) {
      const c = this.stageCopy(it, name);
      if (c) copy.push(c);
      else copyOk = false;
    }
    const patches: Patch[] = [];
    let patchesOk = true;
    for (const it of items(child(n, "patches"))) {
      const p = this.patch(it, name);
      if (p) patches.push(p);
      else patchesOk = false;
    }
    const packagesNode = child(n, "packages");
    const packages = packagesNode === undefined ? undefined : this.packages(packagesNode, name, from === undefined ? "" : fromKey(from));
    const workdirNode = child(n, "workdir");
    const workdir = workdirNode === undefined ? "/" : this.absPath(workdirNode, "workdir");
    const run: Located<string>[] = [];
    for (const it of items(child(n, "run"))) {
      const t = str(it);
      if (t !== undefined) run.push({ value: t, span: it.span });
    }
    const tcNode = map(child(n, "toolchain"));
    let toolchain: Toolchain | undefined;
    if (tcNode) {
      toolchain = {
        cc: "gcc",
        hardening: oneOfStr(child(tcNode, "hardening"), ["strict", "none"], "strict"),
        span: tcNode.span,
      };
    }
    if (!from || workdir === undefined || !mountsOk || !copyOk || !patchesOk) return undefined;
    const stage: Mutable<Stage> = {
      name,
      from,
      on: oneOfStr(child(n, "on"), ["build", "target"], "build"),
      env: this.env(child(n, "env")),
      workdir,
      network: oneOfStr(child(n, "network"), ["sandbox", "none"], "sandbox"),
      mounts,
      copy,
      patches,
      run,
      span: e.span,
    };
    if (packages && (packages.all.length > 0 || packages.byBuildArch !== undefined)) stage.packages = packages;
    if (toolchain) stage.toolchain = toolchain;
    const user = text(child(n, "user"));
    if (user !== undefined) stage.user = user;
    return stage;
  }

  /**
   * A stage's `packages:`, the list form or the map by build architecture.
   * Packages written without a version become moving references (pinned by
   * the lockfile); entries the schema rejected are left out.
   */
  private packages(n: YamlNode, stage: string, from: string): StagePackages | undefined {
    const list = (node: YamlNode | undefined, buildArch: string | undefined): DebianPackage[] => {
      const out: DebianPackage[] = [];
      const seen = new Map<string, Span>();
      for (const it of items(node)) {
        const t = str(it);
        if (t === undefined) continue;
        const r = parseDebianPackage(t);
        if (!r.ok) continue; // the schema reported it
        const key = r.value.arch === undefined ? r.value.name : `${r.value.name}:${r.value.arch}`;
        const first = seen.get(key);
        if (first) {
          this.err("duplicate_package", `${key} is listed twice in stage "${stage}"${buildArch ? ` for ${buildArch}` : ""}`, it.span, "list each package once", [
            { span: first, message: "first listed here" },
          ]);
          continue;
        }
        seen.set(key, it.span);
        out.push({ name: r.value.name, ...(r.value.arch !== undefined ? { arch: r.value.arch } : {}), version: r.value.version ?? "", span: it.span });
      }
      return out;
    };
    // Each build architecture's closure is pinned by content in the lockfile: a moving reference each.
    const closure = (buildArch: string, pkgs: readonly DebianPackage[], span: Span): void => {
      if (pkgs.length === 0) return;
      const request = pkgs.map((p) => `${p.name}${p.arch !== undefined ? `:${p.arch}` : ""}${p.version !== "" ? `=${p.version}` : ""}`);
      this.moving.push({ kind: "debian", stage, buildArch, request, from, span });
    };
    if (n.kind === "seq") {
      const all = list(n, undefined);
      // The list form serves any build platform: pinned for the architectures of the definition's platforms.
      for (const a of this.targetArches) closure(a, all, n.span);
      return { all, span: n.span };
    }
    const m = map(n);
    if (!m) return undefined;
    const byBuildArch: Record<string, DebianPackage[]> = {};
    for (const e of m.entries) {
      byBuildArch[e.key] = list(e.value, e.key);
      closure(e.key, byBuildArch[e.key] as DebianPackage[], e.value?.span ?? n.span);
    }
    return { all: [], byBuildArch, span: n.span };
  }

  private stageCopy(n: YamlNode, owner: string): StageCopy | undefined {
    const m = map(n);
    if (!m) return undefined;
    const r = this.ref(child(m, "from"), owner);
    const src = this.absPath(child(m, "src"), "copy source");
    const dest = this.absPath(child(m, "dest"), "copy destination");
    if (!r || src === undefined || dest === undefined) return undefined;
    return { from: r.from, fromKind: r.fromKind, src, dest, span: n.span };
  }

  private patch(n: YamlNode, owner: string): Patch | undefined {
    const m = map(n);
    if (!m) return undefined;
    const from = this.patchSource(child(m, "from"), owner);
    const path = this.absPath(child(m, "path"), "patch path");
    const sha256 = str(child(m, "sha256"));
    const stripNode = child(m, "strip");
    const strip = stripNode === undefined ? 1 : int(stripNode);
    // A missing or malformed sha256 and a bad strip were reported by the schema.
    if (from === undefined || path === undefined || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    if (strip === undefined || strip < 0 || strip > 9) return undefined;
    return { from, path, sha256, strip, span: n.span };
  }

  private mount(m: MapEntry, owner: string): MountSpec | undefined {
    const destCheck = checkAbsolutePath(m.key);
    let dest: string | undefined = m.key;
    if (!destCheck.ok) {
      this.err("invalid_path", `mount destination: ${destCheck.message}`, m.keySpan, destCheck.hint);
      dest = undefined;
    } else if (m.key === "/") {
      this.err("invalid_path", "cannot mount over /", m.keySpan, "mount at a sub-directory such as /src");
      dest = undefined;
    }
    const v = m.value;
    const span = m.span;
    if (v.kind === "scalar") {
      const r = this.ref(v, owner);
      if (!r || dest === undefined) return undefined;
      return { kind: "bind", dest, from: r.from, fromKind: r.fromKind, path: "/", readonly: true, span };
    }
    const n = map(v);
    if (!n) return undefined;
    if (entry(n, "from")) {
      const r = this.ref(child(n, "from"), owner);
      const pathNode = child(n, "path");
      const path = pathNode === undefined ? "/" : this.absPath(pathNode, "mount path");
      if (!r || dest === undefined || path === undefined) return undefined;
      return { kind: "bind", dest, from: r.from, fromKind: r.fromKind, path, readonly: bool(child(n, "readonly"), true), span };
    }
    if (entry(n, "cache")) {
      const id = str(child(n, "cache"));
      if (id === undefined || dest === undefined) return undefined;
      return { kind: "cache", dest, id, sharing: oneOfStr(child(n, "sharing"), ["shared", "private", "locked"], "locked"), span };
    }
    if (entry(n, "tmpfs")) {
      if (dest === undefined || scalar(child(n, "tmpfs"))?.value !== true) return undefined;
      return { kind: "tmpfs", dest, span };
    }
    return undefined;
  }

  private image(e: MapEntry): RuntimeImage | undefined {
    const n = map(e.value);
    if (!n) return undefined;
    let ok = true;
    const from = this.from(child(n, "from"), e.keySpan, undefined);
    if (!from) ok = false;

    const copy: CopySpec[] = [];
    for (const it of items(child(n, "copy"))) {
      const c = this.copy(it);
      if (c) copy.push(c);
      else ok = false;
    }
    const user = this.user(entry(n, "user"), e.keySpan);
    if (!user) ok = false;
    const workdirNode = child(n, "workdir");
    const workdir = workdirNode === undefined ? undefined : this.absPath(workdirNode, "workdir");
    if (workdirNode !== undefined && workdir === undefined) ok = false;

    const volumes: string[] = [];
    const seenVol = new Map<string, Span>();
    for (const it of items(child(n, "volumes"))) {
      const v = this.absPath(it, "volume");
      if (v === undefined) {
        ok = false;
        continue;
      }
      const first = seenVol.get(v);
      if (first) {
        this.err("duplicate_volume", `volume ${v} is listed twice`, it.span, "remove one", [{ span: first, message: "first listed here" }]);
        continue;
      }
      seenVol.set(v, it.span);
      volumes.push(v);
    }

    const expose: string[] = [];
    const seenPort = new Map<string, Span>();
    for (const it of items(child(n, "expose"))) {
      const t = text(it);
      if (t === undefined || typeof scalar(it)?.value === "boolean") continue;
      if (typeof scalar(it)?.value === "string" && !/^[0-9]+(\/(tcp|udp|sctp))?$/.test(t)) continue; // the schema reported it
      const p = this.check(parsePort(t), "invalid_port", it.span);
      if (p === undefined) {
        ok = false;
        continue;
      }
      const first = seenPort.get(p);
      if (first) {
        this.err("duplicate_port", `port ${p} is listed twice`, it.span, "remove one", [{ span: first, message: "first listed here" }]);
        continue;
      }
      seenPort.set(p, it.span);
      expose.push(p);
    }

    const args = (k: string): string[] | undefined => {
      const node = child(n, k);
      if (node?.kind !== "seq") return undefined;
      return node.items.map(text).filter((x): x is string => x !== undefined);
    };
    const healthcheck = this.healthcheck(child(n, "healthcheck"));
    if (healthcheck === null) ok = false;

    const rt = map(child(n, "runtime"));
    const readOnly = bool(child(rt, "readOnly"), true);
    const noNewPrivileges = bool(child(rt, "noNewPrivileges"), true);
    if (rt && !readOnly) {
      const s = entry(rt, "readOnly")?.span ?? rt.span;
      this.warn("writable_root_fs", "the image is meant to run with a writable root file system", s, "declare writable paths as volumes and keep readOnly: true");
    }
    if (rt && !noNewPrivileges) {
      const s = entry(rt, "noNewPrivileges")?.span ?? rt.span;
      this.warn("new_privileges_allowed", "the image is meant to run without no-new-privileges", s, "keep noNewPrivileges: true unless a setuid binary must work");
    }
    const capabilities: string[] = [];
    for (const it of items(child(rt, "capabilities"))) {
      const t = str(it);
      if (t === undefined || !/^[A-Za-z_]+$/.test(t)) continue;
      const bare = t.toUpperCase().replace(/^CAP_/, "");
      if (!(CAPABILITIES as readonly string[]).includes(bare)) {
        const guess = closest(bare, CAPABILITIES);
        this.err("unknown_capability", `unknown capability "${t}"`, it.span, guess !== undefined ? `did you mean "${guess}"?` : "see capabilities(7)");
        ok = false;
        continue;
      }
      const cap = `CAP_${bare}`;
      if (capabilities.includes(cap)) continue;
      capabilities.push(cap);
      this.warn("capability_added", `the image needs capability ${cap}`, it.span, bare === "NET_BIND_SERVICE" ? "listening on a port ≥ 1024 needs no capability" : undefined);
    }

    const chk = map(child(n, "check"));
    const waivers: Waiver[] = [];
    for (const it of items(child(chk, "waivers"))) {
      const w = map(it);
      const rule = str(child(w, "rule"));
      const reason = str(child(w, "reason"));
      if (!w || rule === undefined || reason === undefined) continue;
      const ruleNode = child(w, "rule") ?? it;
      const known = RULE_IDS.has(rule) || (rule.endsWith("*") && [...RULE_IDS].some((id) => id.startsWith(rule.slice(0, -1))));
      if (!known) {
        const guess = closest(rule, RULE_IDS);
        this.err("unknown_rule", `no check rule "${rule}"`, ruleNode.span, guess !== undefined ? `did you mean "${guess}"? (docs/check.md lists the rules)` : "docs/check.md lists the rules");
        ok = false;
        continue;
      }
      const path = str(child(w, "path"));
      if (path !== undefined && !path.startsWith("/")) {
        this.err("invalid_path", `waiver path "${path}" must be absolute (a path in the image)`, (child(w, "path") ?? it).span, `write "/${path.replace(/^\.?\/*/, "")}"`);
        ok = false;
        continue;
      }
      waivers.push({ rule, ...(path !== undefined ? { path } : {}), reason, span: it.span });
    }
    const hardening: Hardening = str(child(chk, "hardening")) === "none" ? "none" : "strict";

    if (!ok || !from || !user) return undefined;
    const img: Mutable<RuntimeImage> = {
      from,
      copy,
      user,
      volumes,
      expose,
      env: this.env(child(n, "env")),
      labels: (map(child(n, "labels"))?.entries ?? [])
        .map((x): [string, string | undefined] => [x.key, text(x.value)])
        .filter((x): x is [string, string] => x[1] !== undefined),
      runtime: { readOnly, capabilities, noNewPrivileges },
      check: { hardening, waivers },
      span: e.span,
    };
    if (workdir !== undefined) img.workdir = workdir;
    const entrypoint = args("entrypoint");
    if (entrypoint) img.entrypoint = entrypoint;
    const cmd = args("cmd");
    if (cmd) img.cmd = cmd;
    if (healthcheck) img.healthcheck = healthcheck;
    const stop = str(child(n, "stopSignal"));
    if (stop !== undefined) img.stopSignal = stop;
    return img;
  }

  private copy(n: YamlNode): CopySpec | undefined {
    const m = map(n);
    if (!m) return undefined;
    const r = this.ref(child(m, "from"), undefined);
    const srcNode = child(m, "src");
    const src = str(srcNode);
    let srcOk = src !== undefined;
    if (src !== undefined && srcNode) {
      if (!src.startsWith("/")) {
        this.err("invalid_path", `copy source: path "${src}" must be absolute (a path inside \`from\`)`, srcNode.span, `write "/${src.replace(/^\.?\/*/, "")}"`);
        srcOk = false;
      } else if (src.split("/").includes("..")) {
        this.err("invalid_path", `copy source: path "${src}" must not contain ".."`, srcNode.span);
        srcOk = false;
      }
    }
    const dest = this.absPath(child(m, "dest"), "copy destination");
    let mode: number | undefined;
    const modeNode = scalar(child(m, "mode"));
    if (modeNode && modeNode.value !== null) {
      const t = text(modeNode) ?? "";
      if (/^0?[0-7]{3}$/.test(t)) mode = parseInt(t, 8);
      else {
        if (typeof modeNode.value === "number") {
          this.err("invalid_mode", `mode ${t} is not octal permission bits`, modeNode.span, 'write it as a quoted octal string such as "0755" (digits are read as octal)');
        }
        return undefined;
      }
    }
    if (!r || !srcOk || src === undefined || dest === undefined) return undefined;
    const c: Mutable<CopySpec> = { from: r.from, fromKind: r.fromKind, src, dest, libraries: bool(child(m, "libraries"), false), span: n.span };
    if (mode !== undefined) c.mode = mode;
    return c;
  }

  private user(e: MapEntry | undefined, imageKey: Span): RuntimeUser | undefined {
    if (!e) return { uid: DEFAULT_UID, gid: DEFAULT_UID, name: DEFAULT_USER_NAME, span: imageKey };
    const n = e.value;
    const span = n.span;
    let uid: number | undefined;
    let gid: number | undefined;
    let name = DEFAULT_USER_NAME;
    let rootReason: string | undefined;
    if (n.kind === "scalar") {
      const t = text(n);
      const m = t === undefined ? null : /^([0-9]+)(?::([0-9]+))?$/.exec(t);
      if (!m) {
        if (typeof n.value === "string" && /^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$/.test(n.value)) {
          // The schema already reported the pattern; nothing more to add.
        }
        return undefined;
      }
      uid = Number(m[1]);
      gid = m[2] !== undefined ? Number(m[2]) : uid;
      for (const [v, what] of [[uid, "uid"], [gid, "gid"]] as const) {
        if (v > 4294967294) {
          this.err("out_of_range", `${what} ${v} is out of range`, span, "ids are 0–4294967294");
          return undefined;
        }
      }
    } else if (n.kind === "map") {
      uid = int(child(n, "uid"));
      gid = int(child(n, "gid"));
      name = str(child(n, "name")) ?? DEFAULT_USER_NAME;
      rootReason = str(child(n, "rootReason"));
    }
    if (uid === undefined || gid === undefined) return undefined;
    if (uid === 0 && rootReason === undefined) {
      this.err("root_user", "the image would run as root (uid 0) without a stated reason", span, 'to run as root, write user: { uid: 0, gid: 0, rootReason: "…" }');
      return undefined;
    }
    const u: Mutable<RuntimeUser> = { uid, gid, name, span };
    if (rootReason !== undefined) u.rootReason = rootReason;
    return u;
  }

  /** undefined when absent, null when invalid. */
  private healthcheck(n: YamlNode | undefined): Healthcheck | undefined | null {
    const m = map(n);
    if (!m) return n === undefined ? undefined : null;
    const testNode = child(m, "test");
    const test = items(testNode).map(text).filter((x): x is string => x !== undefined);
    if (test.length === 0) return null;
    const head = test[0];
    if (head === "CMD" || head === "CMD-SHELL" || head === "NONE") {
      this.err("invalid_healthcheck", `healthcheck.test is the command itself, without "${head}"`, items(testNode)[0]?.span ?? m.span, head === "CMD" ? 'remove "CMD"' : "write the command in exec form; images FROM scratch have no shell");
      return null;
    }
    const hc: Mutable<Healthcheck> = { test };
    let ok = true;
    for (const k of ["interval", "timeout", "startPeriod"] as const) {
      const node = child(m, k);
      const t = str(node);
      if (t === undefined || node === undefined) continue;
      const r = parseDuration(t);
      if (!r.ok) {
        ok = false; // the schema pattern reported it
        continue;
      }
      if (r.value < 1e6) {
        this.err("invalid_duration", `healthcheck.${k} must be at least 1ms`, node.span);
        ok = false;
        continue;
      }
      hc[k] = r.value;
    }
    const retries = int(child(m, "retries"));
    if (retries !== undefined && retries >= 0) hc.retries = retries;
    return ok ? hc : null;
  }

  /** Reports each cycle among stages (through `from`, mounts or copies) once, with its path. */
  private cycles(): void {
    const state = new Map<string, "active" | "done">();
    const stack: { name: string; span: Span | undefined }[] = [];
    const reported = new Set<string>();
    const visit = (name: string, via: Span | undefined): void => {
      const st = state.get(name);
      if (st === "done") return;
      if (st === "active") {
        const i = stack.findIndex((s) => s.name === name);
        const cyc = stack.slice(i);
        const key = [...cyc.map((c) => c.name)].sort().join("\0");
        if (reported.has(key)) return;
        reported.add(key);
        const names = [...cyc.map((c) => c.name), name];
        const spans = [...cyc.slice(1).map((c) => c.span), via].filter((s): s is Span => s !== undefined);
        const [primary, ...rest] = spans;
        if (!primary) return;
        this.err(
          "stage_cycle",
          names.length === 2 ? `stage "${name}" depends on itself` : `stages form a cycle: ${names.join(" → ")}`,
          primary,
          "a stage can only use stages that do not use it back",
          rest.map((s) => ({ span: s, message: "part of the cycle" })),
        );
        return;
      }
      state.set(name, "active");
      stack.push({ name, span: via });
      for (const edge of this.edges.get(name) ?? []) visit(edge.to, edge.span);
      stack.pop();
      state.set(name, "done");
    };
    for (const name of this.stages.keys()) visit(name, undefined);
  }

  /** Warns about stages and sources nothing in the image depends on. */
  private unused(): void {
    const reach = new Set<string>();
    const walk = (name: string): void => {
      if (reach.has(name)) return;
      reach.add(name);
      for (const n of this.used.get(name) ?? []) walk(n);
    };
    for (const n of this.imageUses) walk(n);
    for (const [name, e] of this.stages) {
      if (!reach.has(name)) this.warn("unused_stage", `stage "${name}" is not used by the image`, e.keySpan, "copy from it in image.copy, or remove it");
    }
    for (const [name, e] of this.sources) {
      if (!reach.has(name)) this.warn("unused_source", `source "${name}" is not used`, e.keySpan, "mount it in a stage, copy from it, or remove it");
    }
    for (const [name, e] of this.imports) {
      if (!reach.has(name)) this.warn("unused_import", `import "${name}" is not used`, e.keySpan, `start a stage or the image from it (from: ${name}), or remove it`);
    }
  }
}

/** Builds the model and reports semantic problems (see the file comment). */
export function buildDefinition(doc: LoadedDocument): { definition?: ImageDefinition; diagnostics: Diagnostic[] } {
  const b = new Builder(doc);
  const definition = b.build();
  return definition ? { definition, diagnostics: b.diagnostics } : { diagnostics: b.diagnostics };
}

/** What a stage's Debian closure is resolved on top of, as the lockfile records it. */
function fromKey(from: FromRef): string {
  switch (from.kind) {
    case "image":
      return from.ref;
    case "stage":
      return `stage:${from.name}`;
    case "import":
      return `import:${from.name}`;
    case "scratch":
      return "scratch";
  }
}

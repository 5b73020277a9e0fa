// The release index from a built OCI layout: per platform, the image with
// one more layer (dpkg status.d entries for the Debian packages whose files
// ship), its SPDX SBOM and SLSA provenance as an attestation manifest the
// way BuildKit writes them, and a CycloneDX SBOM of the same model (written
// beside, not attached). Pure: same layout and inputs, same bytes.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { decompressLayer, readTar, type TarRecord } from "../check/index.js";
import { tar, type TarEntry } from "../engine/tar.js";
import { formatParagraph, rfc3339 } from "../bootstrap/index.js";
import { owningPackage, type DebContents } from "./debs.js";
import { dpkgArch } from "../platform/index.js";
import { Blobs, MEDIA_CONFIG, MEDIA_IN_TOTO, MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST, type Descriptor, type Index, type Manifest } from "./layout.js";
import type { PatchInfo } from "./patches.js";
import { provenancePredicate, SLSA_V1, SPDX_DOCUMENT, statement, type Dependency } from "./provenance.js";
import { cyclonedxDocument } from "./cyclonedx.js";
import { spdxDocument, type FileOrigin, type SbomInput, type ShippedFile, type SourceInfo } from "./sbom.js";

export interface ReleaseInputs {
  readonly name: string;
  readonly version: string;
  /** The definition file, relative to the build context. */
  readonly definition: string;
  readonly sourceDateEpoch: number;
  readonly caissonVersion: string;
  readonly buildPlatform: string;
  readonly sources: readonly SourceInfo[];
  readonly patches: readonly PatchInfo[];
  /** Every pinned .deb of the build stages. */
  readonly debPins: readonly import("../debian/index.js").DebPin[];
  /** Those installed when building for each target's dpkg architecture (stages `on: target` install their own); all of debPins when absent. */
  readonly byTarget?: Readonly<Record<string, readonly import("../debian/index.js").DebPin[]>>;
  /** The .debs whose files may ship (opened): a shipped file is traced to one of these by content. */
  readonly debs: readonly DebContents[];
  /** What the runtime image copies straight from sources: dest path → source. */
  readonly sourceCopies?: readonly { readonly dest: string; readonly source: string }[];
  /** What the runtime image copies from stages: dest path → stage and the sources that stage builds from. */
  readonly copies: readonly { readonly dest: string; readonly src?: string; readonly stage: string; readonly sources: readonly string[]; readonly libraries: boolean }[];
  readonly materials: readonly Dependency[];
  readonly builder: readonly Dependency[];
}

export interface PlatformRelease {
  readonly platform: string;
  readonly manifest: Descriptor;
  /** The SPDX 2.3 document (also attached as an attestation). */
  readonly sbom: Record<string, unknown>;
  /** The CycloneDX 1.5 document of the same model. */
  readonly cyclonedx: Record<string, unknown>;
  readonly provenance: Record<string, unknown>;
  /** Debian packages given a status.d entry: name → version. */
  readonly statusd: Readonly<Record<string, string>>;
}

export interface Release {
  readonly index: Descriptor;
  readonly blobs: Blobs;
  readonly platforms: readonly PlatformRelease[];
}

const STATUS_D = "var/lib/dpkg/status.d";

function hex(algo: "sha1" | "sha256", data: Uint8Array | string): string {
  return createHash(algo).update(data).digest("hex");
}

/** The image's files after its layers (whiteouts applied): path (no leading /) → record. */
export async function flatten(layers: readonly Uint8Array[]): Promise<Map<string, TarRecord>> {
  const files = new Map<string, TarRecord>();
  for (const layer of layers) {
    for (const r of readTar(layer)) {
      const slash = r.path.lastIndexOf("/");
      const base = r.path.slice(slash + 1);
      const dir = slash < 0 ? "" : r.path.slice(0, slash + 1);
      if (base.startsWith(".wh.")) {
        const gone = base === ".wh..wh..opq" ? dir : dir + base.slice(4);
        for (const p of [...files.keys()]) if (p === gone || p.startsWith(gone.endsWith("/") ? gone : gone + "/")) files.delete(p);
        continue;
      }
      files.set(r.path, r);
    }
  }
  return files;
}

/** The platform images of a built layout (attestations and nested indexes handled). */
export function platformManifests(index: Index, blobs: Blobs): Descriptor[] {
  const out: Descriptor[] = [];
  const visit = (d: Descriptor) => {
    if (d.annotations?.["vnd.docker.reference.type"] === "attestation-manifest") return;
    if (d.mediaType === MEDIA_INDEX || d.mediaType === "application/vnd.docker.distribution.manifest.list.v2+json") {
      for (const m of blobs.json<Index>(d.digest).manifests) visit(m);
      return;
    }
    if (d.platform?.os === "unknown") return;
    out.push(d);
  };
  for (const d of index.manifests) visit(d);
  return out;
}

function origin(path: string, rec: TarRecord, inputs: ReleaseInputs, debs: readonly DebContents[]): FileOrigin {
  const abs = `/${path}`;
  const under = (dest: string) => abs === dest || abs.startsWith(dest.endsWith("/") ? dest : dest + "/");
  if (rec.type === "file") {
    const sha = hex("sha256", rec.data);
    // At its path in the image, or at the path it was copied from in the stage (`src` → another `dest`).
    const stagePaths = inputs.copies.flatMap((c) => (c.src !== undefined && under(c.dest) ? [(c.src + abs.slice(c.dest.length)).replace(/^\/+/, "")] : []));
    for (const p of [path, ...stagePaths]) {
      const owner = owningPackage(debs, p, sha);
      if (owner) return { kind: "deb", pin: owner.deb.pin, debPath: owner.path };
    }
    // Copied from a stage under another name (a `run` step's cp): the same bytes as a package's file.
    // Only for files large enough that equal content means the same file, not a coincidence.
    if (stagePaths.length > 0 && rec.data.length >= 1024) {
      for (const deb of debs) for (const [p, f] of deb.files) if (f.sha256 === sha) return { kind: "deb", pin: deb.pin, debPath: p };
    }
  } else if (rec.type === "symlink") {
    for (const deb of debs) {
      for (const v of [path, `usr/${path}`, path.replace(/^usr\//, "")]) if (deb.files.get(v)?.link === rec.linkTarget) return { kind: "deb", pin: deb.pin, debPath: v };
    }
  }
  if (!path.startsWith("etc/")) {
    // The image's copies in order: a later one over the same path wins.
    const fromSource = inputs.sourceCopies?.findLast((c) => under(c.dest));
    if (fromSource) return { kind: "source", source: fromSource.source };
    const copy = inputs.copies.find((c) => under(c.dest));
    if (copy) return { kind: "stage", stage: copy.stage, sources: copy.sources };
    // A library `libraries: true` collected that no pinned package holds: its stage is known, not its source.
    const lib = inputs.copies.find((c) => c.libraries);
    if (lib) return { kind: "stage", stage: lib.stage, sources: [], library: true };
  }
  return { kind: "caisson", what: "the runtime filesystem (user and group files, directories)" };
}

/**
 * A layer re-written with every entry dated `epoch`: what an exporter leaves
 * to the clock (directories a copy created) no longer leaks. Owners, modes,
 * order and contents are kept; anything but files, directories and symlinks
 * is refused (a runtime image built by caisson has none).
 */
export function normaliseLayer(layer: Uint8Array, epoch: number, what: string): Buffer {
  const entries = readTar(layer).map((r): TarEntry => {
    if (r.xattrs && Object.keys(r.xattrs).length > 0) throw new Error(`${what}: /${r.path} has extended attributes, which caisson release does not carry over`);
    switch (r.type) {
      case "file":
        return { type: "file", path: r.path, data: r.data, mode: r.mode, uid: r.uid, gid: r.gid };
      case "dir":
        return { type: "dir", path: r.path, mode: r.mode, uid: r.uid, gid: r.gid };
      case "symlink":
        return { type: "symlink", path: r.path, target: r.linkTarget ?? "" };
      default:
        throw new Error(`${what}: /${r.path} is a ${r.type}, which caisson release does not carry over`);
    }
  });
  return tar(entries.filter((e) => e.path !== ""), epoch);
}

/** The status.d layer: each owning package's control paragraph and the md5sums of its shipped files. */
function statusLayer(owners: Map<DebContents, string[]>, epoch: number): { tar: Buffer; packages: Record<string, string>; entries: { path: string; data: Buffer }[] } {
  const entries: { path: string; data: Buffer }[] = [];
  const packages: Record<string, string> = {};
  for (const [deb, paths] of [...owners].sort(([a], [b]) => (a.pin.name < b.pin.name ? -1 : 1))) {
    const name = deb.pin.name;
    packages[name] = deb.pin.version;
    entries.push({ path: `${STATUS_D}/${name}`, data: Buffer.from(formatParagraph(deb.control)) });
    const sums = [...new Set(paths)]
      .sort()
      .flatMap((p) => (deb.md5sums.has(p) ? [`${deb.md5sums.get(p)}  ${p}\n`] : []))
      .join("");
    if (sums) entries.push({ path: `${STATUS_D}/${name}.md5sums`, data: Buffer.from(sums) });
  }
  const t: TarEntry[] = [
    { type: "dir", path: "var" },
    { type: "dir", path: "var/lib" },
    { type: "dir", path: "var/lib/dpkg" },
    { type: "dir", path: STATUS_D },
    ...entries.map((e): TarEntry => ({ type: "file", path: e.path, data: e.data, mode: 0o644 })),
  ];
  return { tar: tar(t, epoch), packages, entries };
}

/** Builds the release index from a built layout. */
export async function assembleRelease(built: { index: Index; blobs: Blobs }, inputs: ReleaseInputs): Promise<Release> {
  const out = new Blobs();
  const images: Descriptor[] = [];
  const attestations: Descriptor[] = [];
  const platforms: PlatformRelease[] = [];
  const created = rfc3339(inputs.sourceDateEpoch);
  for (const desc of platformManifests(built.index, built.blobs)) {
    const manifest = built.blobs.json<Manifest>(desc.digest);
    const config = built.blobs.json<Record<string, unknown> & { os?: string; architecture?: string; variant?: string; rootfs?: { type?: string; diff_ids?: string[] }; history?: unknown[] }>(manifest.config.digest);
    const plat = desc.platform ?? { os: config.os ?? "linux", architecture: config.architecture ?? "unknown", ...(config.variant ? { variant: config.variant } : {}) };
    const platform = `${plat.os}/${plat.architecture}${plat.variant ? `/${plat.variant}` : ""}`;
    const layers = await Promise.all(manifest.layers.map((l) => decompressLayer(built.blobs.get(l.digest), `layer ${l.digest}`)));
    const files = await flatten(layers);

    // This platform's packages only: the same bytes in another target's .deb are not where its files came from.
    const pins = inputs.byTarget?.[dpkgArch(plat)] ?? inputs.debPins;
    const installed = new Set(pins.map((p) => p.sha256));
    const debs = inputs.debs.filter((d) => installed.has(d.pin.sha256));
    const shipped: ShippedFile[] = [];
    const owners = new Map<DebContents, string[]>();
    for (const path of [...files.keys()].sort()) {
      const r = files.get(path) as TarRecord;
      if (r.type !== "file" && r.type !== "symlink") continue;
      const o = origin(path, r, inputs, debs);
      const content = r.type === "file" ? r.data : Buffer.from(r.linkTarget ?? "");
      shipped.push({ path: `/${path}`, sha1: hex("sha1", content), sha256: hex("sha256", content), ...(r.type === "symlink" ? { symlink: r.linkTarget ?? "" } : {}), origin: o });
      if (o.kind === "deb") {
        const deb = debs.find((d) => d.pin === o.pin) as DebContents;
        owners.set(deb, [...(owners.get(deb) ?? []), o.debPath]);
      }
    }

    // The image's layers normalised (every entry dated at the epoch, recompressed here), plus the
    // status.d layer when Debian files ship.
    const tars = layers.map((l, i) => normaliseLayer(l, inputs.sourceDateEpoch, `${platform} layer ${i + 1}`));
    let history = config.history ?? [];
    let statusd: Record<string, string> = {};
    if (owners.size > 0) {
      const s = statusLayer(owners, inputs.sourceDateEpoch);
      statusd = s.packages;
      tars.push(s.tar);
      history = [...history, { created, created_by: `caisson release: dpkg status.d for ${Object.keys(s.packages).join(", ")}`, comment: "the Debian packages whose files ship, for scanners that read package databases" }];
      for (const e of s.entries) shipped.push({ path: `/${e.path}`, sha1: hex("sha1", e.data), sha256: hex("sha256", e.data), origin: { kind: "caisson", what: "dpkg status.d entry of the Debian package whose files ship" } });
    }
    const layerDescs = tars.map((t) => out.put(MEDIA_LAYER_GZIP, gzipSync(t, { level: 9 })));
    const newConfig = { ...config, rootfs: { type: "layers", diff_ids: tars.map((t) => `sha256:${hex("sha256", t)}`) }, history };
    const configDesc = out.putJson(MEDIA_CONFIG, newConfig);
    const imageManifest: Manifest = { schemaVersion: 2, mediaType: MEDIA_MANIFEST, config: configDesc, layers: layerDescs, ...(manifest.annotations ? { annotations: manifest.annotations } : {}) };
    const imageDesc = out.putJson(MEDIA_MANIFEST, imageManifest, { platform: plat });
    images.push(imageDesc);

    // Its attestations: SBOM and provenance, one in-toto layer each.
    const subject = { name: `pkg:docker/${inputs.name}@${inputs.version}?platform=${encodeURIComponent(platform)}`, digest: imageDesc.digest };
    const model: SbomInput = {
      name: inputs.name,
      version: inputs.version,
      platform,
      manifestDigest: imageDesc.digest,
      created,
      caissonVersion: inputs.caissonVersion,
      sources: inputs.sources,
      patches: inputs.patches,
      debs: pins,
      files: shipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    };
    const sbom = spdxDocument(model);
    const provenance = provenancePredicate({
      definition: inputs.definition,
      platform,
      buildPlatform: inputs.buildPlatform,
      sourceDateEpoch: inputs.sourceDateEpoch,
      caissonVersion: inputs.caissonVersion,
      materials: inputs.materials,
      builder: inputs.builder,
    });
    const statements = [
      [SPDX_DOCUMENT, statement(SPDX_DOCUMENT, subject, sbom)],
      [SLSA_V1, statement(SLSA_V1, subject, provenance)],
    ] as const;
    const attLayers = statements.map(([type, st]) => out.putJson(MEDIA_IN_TOTO, st, { annotations: { "in-toto.io/predicate-type": type } }));
    const attConfig = out.putJson(MEDIA_CONFIG, { architecture: "unknown", os: "unknown", config: {}, rootfs: { type: "layers", diff_ids: attLayers.map((l) => l.digest) } });
    const attManifest: Manifest = { schemaVersion: 2, mediaType: MEDIA_MANIFEST, config: attConfig, layers: attLayers };
    attestations.push(
      out.putJson(MEDIA_MANIFEST, attManifest, {
        platform: { os: "unknown", architecture: "unknown" },
        annotations: { "vnd.docker.reference.digest": imageDesc.digest, "vnd.docker.reference.type": "attestation-manifest" },
      }),
    );
    platforms.push({ platform, manifest: imageDesc, sbom, cyclonedx: cyclonedxDocument(model), provenance, statusd });
  }
  if (images.length === 0) throw new Error("the built layout holds no platform image");
  const index: Index = { schemaVersion: 2, mediaType: MEDIA_INDEX, manifests: [...images, ...attestations] };
  return { index: out.putJson(MEDIA_INDEX, index), blobs: out, platforms };
}

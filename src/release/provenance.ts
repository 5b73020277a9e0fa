// SLSA v1 provenance (the predicate of an in-toto statement): what was
// built from what, by which caisson, on which platform. No clock and no
// invocation id: the same inputs give the same statement, so attaching it
// keeps the index digest reproducible.

export interface Dependency {
  /** What it is: a file of the build context, an image reference, a source URL. */
  readonly name: string;
  readonly uri?: string;
  readonly sha256: string;
}

export interface ProvenanceInput {
  /** The definition file, relative to the build context. */
  readonly definition: string;
  readonly platform: string;
  readonly buildPlatform: string;
  readonly sourceDateEpoch: number;
  readonly caissonVersion: string;
  /** The definition, its lockfiles, imported definitions, sources, base images. */
  readonly materials: readonly Dependency[];
  /** What ran the build (the builder image the stages start from, the frontend image), by digest. */
  readonly builder: readonly Dependency[];
}

export const SLSA_V1 = "https://slsa.dev/provenance/v1";
export const SPDX_DOCUMENT = "https://spdx.dev/Document";

const descriptor = (d: Dependency) => ({ name: d.name, ...(d.uri ? { uri: d.uri } : {}), digest: { sha256: d.sha256 } });

/** The SLSA v1 predicate. */
export function provenancePredicate(o: ProvenanceInput): Record<string, unknown> {
  return {
    buildDefinition: {
      buildType: "urn:caisson:release:v1",
      externalParameters: { definition: o.definition, platform: o.platform },
      internalParameters: { buildPlatform: o.buildPlatform, sourceDateEpoch: o.sourceDateEpoch },
      resolvedDependencies: o.materials.map(descriptor),
    },
    runDetails: {
      builder: {
        id: `urn:caisson:builder:${o.buildPlatform}`,
        version: { caisson: o.caissonVersion },
        builderDependencies: o.builder.map(descriptor),
      },
      metadata: {},
    },
  };
}

/** An in-toto v0.1 statement, as BuildKit writes attestation layers. */
export function statement(predicateType: string, subject: { name: string; digest: string }, predicate: unknown): Record<string, unknown> {
  return {
    _type: "https://in-toto.io/Statement/v0.1",
    predicateType,
    subject: [{ name: subject.name, digest: { sha256: subject.digest.replace(/^sha256:/, "") } }],
    predicate,
  };
}

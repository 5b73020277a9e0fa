// Releases: a built OCI layout made into a release (layers normalised,
// dpkg status.d, SPDX SBOM and SLSA provenance per platform as attestation
// manifests, a CycloneDX SBOM beside), compared for reproducibility, and
// pushed to a registry with its own OCI distribution client.
export { assembleRelease, flatten, normaliseLayer, platformManifests, type PlatformRelease, type Release, type ReleaseInputs } from "./assemble.js";
export { findCredentials, type Credentials } from "./credentials.js";
export { releaseInputs, sourceMaterial, stageSources, type InputsOptions } from "./inputs.js";
export { owningPackage, pathVariants, readDebContents, type DebContents } from "./debs.js";
export { Blobs, layoutArchive, readLayout, sha256, MEDIA_INDEX, MEDIA_IN_TOTO, MEDIA_MANIFEST, type Descriptor, type Index, type Manifest } from "./layout.js";
export { patchCves, readPatches, type PatchInfo } from "./patches.js";
export { provenancePredicate, SLSA_V1, SPDX_DOCUMENT, statement, type Dependency } from "./provenance.js";
export { pushRelease, type PushOptions, type PushResult } from "./push.js";
export { isLoopback, parseRepoRef, Registry, RegistryError, type RegistryOptions, type RepoRef } from "./registry.js";
export { CYCLONEDX_VERSION, cyclonedxDocument, uuidV5 } from "./cyclonedx.js";
export { debPurl, fileOrigin, spdxDocument, type FileOrigin, type SbomInput, type ShippedFile, type SourceInfo } from "./sbom.js";
export { releaseTags } from "./tags.js";
export { compareReleases } from "./verify.js";

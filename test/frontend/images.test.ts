import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ImagePinError, imageUses, resolvePinnedImages, splitImageRef, type ResolveImageConfig } from "../../src/frontend/images.js";
import { ResolveImageConfigResponseSchema } from "../../src/gen/buildkit/gateway/gateway_pb.js";
import { imageSource, marshal, State } from "../../src/llb/index.js";

const IDX = `sha256:${"1".repeat(64)}`;
const OTHER = `sha256:${"2".repeat(64)}`;
const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };
const ARMV7 = { os: "linux", architecture: "arm", variant: "v7" };

function fakeResolve(digest: string | Error) {
  const reqs: { Ref: string; ResolveMode: string; Platform?: { OS: string; Architecture: string; Variant: string } }[] = [];
  const resolve: ResolveImageConfig = async (req) => {
    reqs.push({
      Ref: req.Ref ?? "",
      ResolveMode: req.ResolveMode ?? "",
      ...(req.Platform ? { Platform: { OS: req.Platform.OS ?? "", Architecture: req.Platform.Architecture ?? "", Variant: req.Platform.Variant ?? "" } } : {}),
    });
    if (digest instanceof Error) throw digest;
    return create(ResolveImageConfigResponseSchema, { Digest: digest });
  };
  return { resolve, reqs };
}

describe("splitImageRef", () => {
  it("separates name, tag and digest of normalised references", () => {
    expect(splitImageRef(`docker.io/caisson/debian:bookworm@${IDX}`)).toEqual({ name: "docker.io/caisson/debian", tagged: "docker.io/caisson/debian:bookworm", digest: IDX });
    expect(splitImageRef("docker.io/caisson/debian:bookworm")).toEqual({ name: "docker.io/caisson/debian", tagged: "docker.io/caisson/debian:bookworm" });
    expect(splitImageRef(`docker.io/caisson/debian@${IDX}`)).toEqual({ name: "docker.io/caisson/debian", digest: IDX });
    // a registry port is not a tag
    expect(splitImageRef(`127.0.0.1:5000/x@${IDX}`)).toEqual({ name: "127.0.0.1:5000/x", digest: IDX });
    expect(splitImageRef(`127.0.0.1:5000/x:1@${IDX}`)).toEqual({ name: "127.0.0.1:5000/x", tagged: "127.0.0.1:5000/x:1", digest: IDX });
  });
});

describe("imageUses", () => {
  it("lists each image source once per platform, in order", () => {
    const ref = `docker.io/caisson/debian:bookworm@${IDX}`;
    const a = marshal(State.of(imageSource(ref, { platform: AMD64, resolveMode: "local" })));
    const b = marshal(State.of(imageSource(ref, { platform: ARM64, resolveMode: "local" })));
    const c = marshal(State.of(imageSource("docker.io/library/x:1", { platform: ARMV7 })));
    expect(imageUses([a, a, b, c])).toEqual([
      { ref, tagged: "docker.io/caisson/debian:bookworm", digest: IDX, platform: AMD64 },
      { ref, tagged: "docker.io/caisson/debian:bookworm", digest: IDX, platform: ARM64 },
      { ref: "docker.io/library/x:1", tagged: "docker.io/library/x:1", platform: ARMV7 },
    ]);
  });
});

describe("resolvePinnedImages", () => {
  const pinned = { ref: `docker.io/caisson/debian:bookworm@${IDX}`, tagged: "docker.io/caisson/debian:bookworm", digest: IDX };

  it("resolves the tag-only name in local mode for the platform and accepts the pinned digest", async () => {
    const f = fakeResolve(IDX);
    const n = await resolvePinnedImages(f.resolve, [{ ...pinned, platform: AMD64 }, { ...pinned, platform: ARMV7 }], () => undefined);
    expect(n).toBe(2);
    expect(f.reqs).toEqual([
      { Ref: "docker.io/caisson/debian:bookworm", ResolveMode: "local", Platform: { OS: "linux", Architecture: "amd64", Variant: "" } },
      { Ref: "docker.io/caisson/debian:bookworm", ResolveMode: "local", Platform: { OS: "linux", Architecture: "arm", Variant: "v7" } },
    ]);
  });

  it("rejects another digest, naming both", async () => {
    const f = fakeResolve(OTHER);
    const p = resolvePinnedImages(f.resolve, [{ ...pinned, platform: ARM64 }], () => undefined);
    await expect(p).rejects.toThrow(ImagePinError);
    await expect(p).rejects.toThrow(`the engine's image differs from the pin: docker.io/caisson/debian:bookworm is ${OTHER} in the engine, the definition pins ${IDX}`);
  });

  it("says the image is missing when the engine cannot resolve the name", async () => {
    const f = fakeResolve(new Error("docker.io/caisson/debian:bookworm: not found"));
    await expect(resolvePinnedImages(f.resolve, [{ ...pinned, platform: AMD64 }], () => undefined)).rejects.toThrow(
      /the engine has no image docker\.io\/caisson\/debian:bookworm for linux\/amd64 \(.*not found\); load the pinned image/,
    );
  });

  it("leaves tag-only and digest-only references alone", async () => {
    const f = fakeResolve(IDX);
    const lines: string[] = [];
    const n = await resolvePinnedImages(
      f.resolve,
      [
        { ref: "docker.io/caisson/debian:bookworm", tagged: "docker.io/caisson/debian:bookworm", platform: AMD64 },
        { ref: `docker.io/caisson/debian@${IDX}`, digest: IDX, platform: AMD64 },
      ],
      (l) => lines.push(l),
    );
    expect(n).toBe(0);
    expect(f.reqs).toEqual([]);
    expect(lines.join("\n")).toContain("has no tag");
  });
});

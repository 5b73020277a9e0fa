// Fuzzing, shard 2 of 2 (see harness.ts).
import { describe } from "vitest";
import { fuzzShard } from "./shard.js";

describe("fuzz", () => fuzzShard(1));

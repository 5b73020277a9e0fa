// sources: where pinned source files come from at build time — a local
// folder keyed by sha256, served to the engine over loopback HTTP.
export { SourceStore, serveStore, type StoreFailure, type StoreServer } from "./store.js";

#!/usr/bin/env node
// Entry point of the installed command: the compiled CLI lives in dist/.
import { main } from "../dist/cli/main.js";

// A reader that stops early (`caisson compile … | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}
process.exitCode = await main(process.argv);

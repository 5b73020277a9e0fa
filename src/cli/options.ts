// Options shared by several commands.
import { Option } from "commander";

export const debianSourcesOption = () =>
  new Option("--debian-sources <file>", "apt sources (deb822) to take Debian archives from instead of this machine's /etc/apt (also $CAISSON_DEBIAN_SOURCES)");

export const debianSnapshotOption = () =>
  new Option(
    "--debian-snapshot <url>",
    "where pinned .debs that neither the source store nor the Debian archives have are fetched ({archive} in the URL becomes the archive name; the pool path is appended)",
  );

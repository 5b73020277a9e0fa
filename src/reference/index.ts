// Image references as docker's reference grammar has them, for names given
// on the command line: `caisson build -o image=/push=`, `--cache-from` /
// `--cache-to type=registry,ref=`, and `caisson release --to`. One parser, so
// every command accepts and refuses the same names; each caller adds what it
// needs on top (release wants a registry host and no tag). A leaf module.
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] component ( "/" component )*   (at most 255 characters)
//   domain     := ( label ( "." label )* | "[" ipv6 "]" ) [ ":" port ]   (port 1-65535)
//   component  := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//   digest     := sha256:<64 hex> | sha384:<96 hex> | sha512:<128 hex>   (lower-case hex)
//
// The first part of the name is the registry when it has a '.' or a ':', is
// `localhost`, or has an upper-case letter (docker's rule); otherwise the
// name has no registry (docker.io's, for docker).
//
// A name with credentials in it (`user:password@host/repo`, an '@' before
// the path) is refused without echoing them: they belong in `docker login`.

/** A reference split into its parts; `domain` only when the name has one. */
export interface Reference {
  readonly domain?: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

export type ReferenceResult = { ok: true; value: Reference } | { ok: false; reason: string };

/** The longest name (registry and path) docker takes. */
export const NAME_MAX = 255;

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:]+\\])$`);
/** One part of a repository path. */
export const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A tag. */
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_HEX: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * `name@digest` split at the `@`; the digest split into its algorithm and
 * hex part when it has the ALGORITHM:… shape (undefined when it does not).
 * Shared by the command line's parser below and the definition's (src/validate/refs).
 */
export function splitDigest(text: string): { name: string; digest?: string; parts?: { algorithm: string; hex: string } } {
  const at = text.indexOf("@");
  if (at < 0) return { name: text };
  const digest = text.slice(at + 1);
  const m = /^([A-Za-z0-9]+(?:[-_+.][A-Za-z0-9]+)*):(.*)$/.exec(digest);
  return { name: text.slice(0, at), digest, ...(m ? { parts: { algorithm: m[1] ?? "", hex: m[2] ?? "" } } : {}) };
}

/** The grammar in one line, for messages. */
export const REFERENCE_FORM = "[HOST[:PORT]/]name[/path][:tag][@sha256:digest]";

const fail = (reason: string): ReferenceResult => ({ ok: false, reason });

/** Why `domain` (`host[:port]`) is not a registry, or undefined when it is one. */
function domainProblem(domain: string): string | undefined {
  const m = /^(.*?)(?::([0-9]*))?$/.exec(domain);
  const host = m?.[1] ?? domain;
  const port = m?.[2];
  if (!HOST.test(host)) return `"${host}" is not a registry host (a DNS name, an IPv4 address or [IPv6], then :PORT if any)`;
  if (port !== undefined && (port === "" || Number(port) < 1 || Number(port) > 65535 || port.length > 5)) {
    return port === "" ? `"${domain}" has an empty port` : `port ${port} is out of range (1-65535)`;
  }
  return undefined;
}

/** Why a path component is refused. */
function componentProblem(component: string): string {
  if (component === "") return "the repository path has an empty part (a doubled, leading or trailing /)";
  const lower = component.toLowerCase();
  if (lower !== component && COMPONENT.test(lower)) return `the repository name must be lowercase ("${component}": write "${lower}")`;
  return `"${component}" is not a repository name part (lowercase letters and digits, separated by . _ __ or -)`;
}

/** A `host[:port]` docker would take as a registry, loosely: for spotting `user:password@host` without a path. */
const HOSTISH = /^(?:localhost|\[[0-9A-Fa-f:]*\]|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?::[0-9]*)?$/;

/**
 * Where the credentials in `text` end (the index of the '@' after
 * `user:password`), or -1: an '@' before the path (`u:pw@host/repo`; a
 * password may itself hold '@' or '/'), or, with no path, an '@' followed by
 * a registry host rather than a digest (`u:pw@127.0.0.1:5000`).
 */
function credentialsEnd(text: string): number {
  const slash = text.lastIndexOf("/");
  const before = slash < 0 ? -1 : text.lastIndexOf("@", slash);
  if (before >= 0) return before;
  const at = text.lastIndexOf("@");
  if (at < 0) return -1;
  const after = text.slice(at + 1);
  return DIGEST_HEX[after.split(":")[0] ?? ""] === undefined && HOSTISH.test(after) ? at : -1;
}

/** `text` safe to quote in a message: credentials in it (`user:password@`) shown as `…@`. */
export function shownReference(text: string): string {
  const end = credentialsEnd(text);
  return end < 0 ? text : `…${text.slice(end)}`;
}

/** Parses a reference; the reason says what is wrong, to be prefixed with the flag that gave it (quote the name with shownReference). */
export function parseReference(text: string): ReferenceResult {
  if (text === "") return fail("the name is empty");
  const creds = credentialsEnd(text);
  if (creds >= 0) {
    const host = /^[^/]*/.exec(text.slice(creds + 1))?.[0] ?? "";
    const login = HOSTISH.test(host) ? `docker login ${host}` : "docker login REGISTRY";
    return fail(
      `credentials do not belong in the name (USER:PASSWORD@ before the registry; not shown here): drop them and log in with \`${login}\` (caisson release also takes CAISSON_REGISTRY_USER and CAISSON_REGISTRY_PASSWORD)`,
    );
  }
  if (/[\s\u0000-\u001f\u007f]/.test(text)) return fail("it contains white space or a control character");
  const split = splitDigest(text);
  let rest = split.name;
  const digest = split.digest;
  if (digest !== undefined) {
    const m = split.parts;
    if (!m) return fail(`the digest "${digest}" is not ALGORITHM:HEX (e.g. sha256: and 64 hex digits)`);
    const want = DIGEST_HEX[m.algorithm];
    if (want === undefined) return fail(`the digest algorithm "${m.algorithm}" is not supported (sha256, sha384 or sha512)`);
    if (!new RegExp(`^[0-9a-f]{${want}}$`).test(m.hex)) {
      return fail(/^[0-9a-fA-F]+$/.test(m.hex) && m.hex.length === want ? `the digest must be lowercase hex (write ${m.algorithm}:${m.hex.toLowerCase()})` : `the digest must be ${m.algorithm}: and ${want} hex digits`);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/") && !rest.slice(colon).includes("]")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      return fail(tag === "" ? "the tag after ':' is empty" : `the tag "${tag}" is not a tag (at most 128 of A-Z a-z 0-9 _ . -, not starting with . or -)`);
    }
  }
  if (rest === "") return fail("the repository name is missing");
  if (rest.length > NAME_MAX) return fail(`the name is ${rest.length} characters long; at most ${NAME_MAX}`);
  const slash = rest.indexOf("/");
  const first = slash < 0 ? rest : rest.slice(0, slash);
  let domain: string | undefined;
  if (slash >= 0 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase())) {
    domain = first;
    const problem = domainProblem(domain);
    if (problem) return fail(problem);
  }
  const path = domain === undefined ? rest : rest.slice(slash + 1);
  for (const component of path.split("/")) if (!COMPONENT.test(component)) return fail(componentProblem(component));
  return { ok: true, value: { ...(domain !== undefined ? { domain } : {}), path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) } };
}

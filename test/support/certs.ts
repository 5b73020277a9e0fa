// Certificates for a TLS engine, made by the openssl CLI: a CA, a server
// certificate for 127.0.0.1, a client certificate it signed, and a client
// certificate signed by another CA (EC P-256, valid one day).
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCerts {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly cert: string;
  readonly key: string;
  readonly wrongCert: string;
  readonly wrongKey: string;
}

function openssl(args: readonly string[], cwd: string): void {
  const r = spawnSync("openssl", args, { encoding: "utf8", cwd });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
}

export function makeCerts(dir: string): TestCerts {
  mkdirSync(dir, { recursive: true });
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string) => openssl(["req", "-x509", ...key, "-keyout", `${name}-key.pem`, "-out", `${name}.pem`, "-days", "1", "-subj", `/CN=caisson test ${name}`], dir);
  const signed = (name: string, cn: string, ext: string, by: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(["req", ...key, "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${by}.pem`, "-CAkey", `${by}-key.pem`, "-CAcreateserial", "-out", `${name}-cert.pem`, "-days", "1", "-extfile", `${name}.ext`], dir);
  };
  ca("ca");
  ca("other-ca");
  signed("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", "ca");
  signed("client", "caisson test client", "extendedKeyUsage=clientAuth\n", "ca");
  signed("wrong", "caisson test client", "extendedKeyUsage=clientAuth\n", "other-ca");
  const p = (f: string) => join(dir, f);
  return { ca: p("ca.pem"), serverCert: p("server-cert.pem"), serverKey: p("server-key.pem"), cert: p("client-cert.pem"), key: p("client-key.pem"), wrongCert: p("wrong-cert.pem"), wrongKey: p("wrong-key.pem") };
}

/** Copies an image from the machine's engine into another (docker save | docker load). */
export function copyImage(docker: string, ref: string, toHost: string): void {
  // A daemon that has just started may still refuse a connection or two.
  let r = spawnSync("true", { encoding: "utf8" });
  for (let i = 0; i < 5; i++) {
    r = spawnSync("sh", ["-c", `"$0" save "$1" | DOCKER_HOST="$2" "$0" load -q`, docker, ref, toHost], { encoding: "utf8" });
    if (r.status === 0 || !/Cannot connect to the Docker daemon/.test(String(r.stderr))) break;
    spawnSync("sleep", ["1"]);
  }
  if (r.status !== 0) throw new Error(`copying ${ref} to ${toHost} failed: ${r.stderr}`);
}

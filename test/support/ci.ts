// Whether the tests run under CI, where everything must run and nothing may
// skip: any non-empty CI other than "false" or "0" (CI=true, CI=1, CI=yes…,
// as CI services set it). Every test that skips outside CI uses this.
export function ciEnabled(value: string | undefined): boolean {
  const v = (value ?? "").trim().toLowerCase();
  return v !== "" && v !== "false" && v !== "0";
}

export const IN_CI = ciEnabled(process.env["CI"]);

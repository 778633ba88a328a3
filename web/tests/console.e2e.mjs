// The console in a real browser (Debian's chromium driven by playwright-core), as a new analyst
// uses it: log in, watch the seed's notable arrive in Incident Review after the scheduled run,
// triage it (in progress + comment), read the audit trail, drill down into Search and see the
// events; a screenshot of every page. Run by crates/cli/tests/console.rs, which starts
// `vigil serve` with a test clock, adds the user and sends the samples over HEC.
//
// Environment: VIGIL_URL, VIGIL_USER, VIGIL_PASSWORD (an analyst), VIGIL_ADMIN_USER and
// VIGIL_ADMIN_PASSWORD (optional: enable/disable on Detections), VIGIL_HEC_TOKEN (moves the test clock),
// VIGIL_CLOCK_TO (the run's time), VIGIL_DETECTION (the seed's name), VIGIL_SCREENSHOTS (dir),
// CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env("VIGIL_URL");
const shots = env("VIGIL_SCREENSHOTS");
const detection = env("VIGIL_DETECTION");
const comment = "Checked the MSI URL: not ours, isolating the host";
mkdirSync(shots, { recursive: true });

const profile = mkdtempSync(join(tmpdir(), "vigil-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1280, height: 800 },
  timeout: 60_000,
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(30_000);
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => m.type() === "error" && !/401/.test(m.text()) && problems.push(`console error: ${m.text()}`));
const step = (what) => console.log(`step: ${what}`);
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`) });

try {
  step("login page");
  await page.goto(base);
  await page.locator("#login-user").waitFor();
  await shot("login");
  await page.fill("#login-user", env("VIGIL_USER"));
  await page.fill("#login-password", "wrong-password");
  await page.press("#login-password", "Enter");
  await page.locator(".login .error").waitFor();
  await page.fill("#login-password", env("VIGIL_PASSWORD"));
  await page.press("#login-password", "Enter");
  await page.locator("nav.tabs a.active", { hasText: "Incident Review" }).waitFor();

  step("Incident Review is empty before the run");
  await page.locator(".list .empty, .list table").first().waitFor();
  const before = await page.locator(".list tbody tr").count();

  step("the scheduled run (test clock)");
  const clock = await fetch(`${base}/vigil/clock?to=${encodeURIComponent(env("VIGIL_CLOCK_TO"))}`, {
    method: "POST",
    headers: { Authorization: `Splunk ${env("VIGIL_HEC_TOKEN")}` },
  });
  if (!clock.ok) throw new Error(`clock: ${clock.status} ${await clock.text()}`);

  step("the notable appears, found with the Detection filter");
  await page.fill("input[name=detection]", detection);
  await page.press("input[name=detection]", "Enter");
  const rows = page.locator(".list tbody tr");
  await rows.first().waitFor();
  const after = await rows.count();
  if (after <= before) throw new Error(`no new notable: ${before} before the run, ${after} after`);

  step("open it, set in progress with a comment (keyboard: Enter on the row)");
  await rows.first().focus();
  await page.keyboard.press("Enter");
  const detail = page.locator("#notable-detail");
  await detail.locator("select[name=status]").waitFor();
  const description = await detail.locator("p.description").innerText();
  if (!description.trim()) throw new Error("the detection's description is missing");
  if ((await detail.locator("table tbody tr").count()) === 0) throw new Error("no risk events in the detail panel");
  await detail.locator("select[name=status]").selectOption("in_progress");
  await detail.locator("#comment").fill(comment);
  await detail.locator("#save-notable").click();

  step("the audit trail shows who changed what");
  const audit = detail.locator("#audit-trail");
  await audit.locator("li", { hasText: comment }).waitFor();
  const trail = await audit.innerText();
  if (!trail.includes("set status") || !trail.includes("in_progress"))
    throw new Error(`status change not in the audit trail:\n${trail}`);
  if (!trail.includes(env("VIGIL_USER"))) throw new Error(`audit trail does not name the user:\n${trail}`);
  await rows.first().locator(".badge.status-in_progress").waitFor();
  await shot("incident-review");

  step("drill down into Search");
  await detail.locator("#drilldown").click();
  await page.locator("nav.tabs a.active", { hasText: "Search" }).waitFor();
  await page.locator(".job-status", { hasText: /done|failed|cancelled/ }).waitFor({ timeout: 60_000 });
  const status = await page.locator(".job-status").innerText();
  if (!/done/.test(status)) throw new Error(`search did not finish: ${status}`);
  // The results table follows the job's final state (its page is fetched after).
  await page.locator(".results tbody tr, .results .empty").first().waitFor();
  const results = await page.locator(".results tbody tr").count();
  if (results === 0) throw new Error(`the drill-down found no events: ${status}`);
  await page.locator("#histogram canvas").waitFor();
  await shot("search");

  step("Risk: open the top object, its chart");
  await page.click("nav.tabs a[data-page=risk]");
  await page.locator("#content h1", { hasText: "Risk" }).waitFor();
  await page.locator("#risk-detail").waitFor();
  await page.locator(".list tbody tr").first().click();
  await page.locator("#risk-chart canvas").waitFor();
  await shot("risk");

  step("Detections");
  await page.keyboard.press("Alt+3");
  await page.locator("#content h1", { hasText: "Detections" }).waitFor();
  await page.locator("table tbody tr", { hasText: detection }).waitFor();
  await shot("detections");

  step("Ingest");
  await page.click("nav.tabs a[data-page=ingest]");
  await page.locator("#content h1", { hasText: "Ingest" }).waitFor();
  await page.locator("#content table tbody tr").first().waitFor();
  await shot("ingest");

  if (process.env.VIGIL_ADMIN_USER) {
    step("an admin disables and re-enables the seed on Detections");
    await page.click("text=Sign out");
    await page.locator("#login-user").waitFor();
    await page.fill("#login-user", env("VIGIL_ADMIN_USER"));
    await page.fill("#login-password", env("VIGIL_ADMIN_PASSWORD"));
    await page.press("#login-password", "Enter");
    await page.locator("nav.tabs").waitFor();
    await page.click("nav.tabs a[data-page=detections]");
    await page.locator("#content h1", { hasText: "Detections" }).waitFor();
    await page.selectOption("select[name=enabled]", "");
    const row = page.locator("#content table tbody tr", { hasText: detection });
    await row.locator("button", { hasText: "Disable" }).click();
    await row.locator(".badge", { hasText: "disabled" }).waitFor();
    await row.locator("button", { hasText: "Enable" }).click();
    await row.locator(".badge", { hasText: "healthy" }).waitFor();
    await shot("detections-admin");
  }

  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify({ ok: true, notables_before: before, notables_after: after, search_rows_on_page: results, job: status }));
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(`FAILED: ${e.stack ?? e}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

// The console in a real browser (Debian's chromium driven by playwright-core), as a new analyst
// uses it: log in, watch the seed's notable arrive in Incident Review after the scheduled run,
// triage it (in progress + comment), read the audit trail, drill down into Search and see the
// events; a screenshot of every page. Run by crates/cli/tests/console.rs, which starts
// `vigil serve` with a test clock, adds the user and sends the samples over HEC.
// Also: the live pages refresh by themselves (the notable arrives without a reload; selection,
// open panel and pause hold), Search pages its results, cancels a running job and says when a
// job is gone, and every page is walked with Tab: each control is reached, with a visible focus.
//
// Environment: VIGIL_URL, VIGIL_USER, VIGIL_PASSWORD (an analyst), VIGIL_ADMIN_USER and
// VIGIL_ADMIN_PASSWORD (optional: enable/disable on Detections), VIGIL_HEC_TOKEN (moves the test clock),
// VIGIL_CLOCK_TO (the run's time), VIGIL_DETECTION (the seed's name), VIGIL_SCREENSHOTS (dir),
// VIGIL_LOAD_HOST and VIGIL_LOAD_PER_HOUR (the background events on 2026-11-18/19 that Search
// pages and cancels), CHROMIUM (default /usr/bin/chromium).
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
const loadHost = env("VIGIL_LOAD_HOST");
const loadPerHour = Number(env("VIGIL_LOAD_PER_HOUR"));
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
// The browser logs the answers it expects to fail: 401 before login, 404 for a job that is gone.
let expected404 = false;
page.on("console", (m) => {
  const known = /401/.test(m.text()) || (expected404 && /404/.test(m.text()));
  if (m.type() === "error" && !known) problems.push(`console error: ${m.text()}`);
});
const step = (what) => console.log(`step: ${what}`);
const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`) });
const fail = (message) => {
  throw new Error(message);
};
// The live pages refresh every second here (the console offers 10 s and up; it keeps what
// localStorage says).
await page.addInitScript(() => localStorage.setItem("vigil.refresh_secs", "1"));
const refreshes = () => page.locator(".live-bar").getAttribute("data-refreshes").then(Number);
/** Waits for `n` more automatic refreshes of the page's live bar. */
async function moreRefreshes(n) {
  const from = await refreshes();
  await page.waitForFunction((m) => Number(document.querySelector(".live-bar")?.dataset.refreshes) >= m, from + n);
}

/**
 * Tab through the page (live refresh paused): every visible control is reached, and each
 * shows a focus outline.
 */
async function tabWalk(label) {
  const expected = await page.evaluate(() => {
    const sel = "summary, a[href], button:not(:disabled), input:not(:disabled), select:not(:disabled), textarea:not(:disabled), [tabindex]:not([tabindex='-1'])";
    const shown = [...document.querySelectorAll(sel)].filter((el) => el.getClientRects().length > 0 && !el.closest("[hidden]"));
    shown.forEach((el, i) => (el.dataset.tabWalk = String(i)));
    return shown.map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""} "${(el.getAttribute("name") ?? el.textContent ?? "").trim().slice(0, 40)}"`);
  });
  const reached = new Set();
  const unmarked = [];
  // Focus cycles through the page, so pressing on reaches each control wherever the walk starts.
  // (Chromium also stops on scrollable boxes without controls, so allow for more presses.)
  for (let i = 0; reached.size < expected.length && i < 2 * expected.length + 10; i++) {
    await page.keyboard.press("Tab");
    const f = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const cs = getComputedStyle(el);
      const outlined = cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0;
      return { id: el.dataset.tabWalk ?? null, outlined, what: `${el.tagName.toLowerCase()}#${el.id}.${el.className}` };
    });
    if (!f) continue;
    if (f.id !== null) reached.add(f.id);
    if (!f.outlined) unmarked.push(f.what);
  }
  const missed = expected.filter((_, i) => !reached.has(String(i)));
  if (missed.length) fail(`${label}: not reachable with Tab: ${missed.join(", ")}`);
  if (unmarked.length) fail(`${label}: focus not visible on ${[...new Set(unmarked)].join(", ")}`);
  return expected.length;
}
const walked = {};
/** Pauses the page's refreshes and waits out one under way (so nothing redraws after). */
async function pauseLive() {
  await page.locator("#live-pause").click();
  await page.locator("#live-pause[aria-pressed=true]").waitFor();
  await page.locator(".live-bar:not([data-loading])").waitFor();
}

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

  step("Incident Review is empty before the run, and refreshes by itself");
  await page.locator(".list .empty, .list table").first().waitFor();
  const before = await page.locator(".list tbody tr").count();
  await page.locator(".live-bar .updated", { hasText: /Updated \d\d:\d\d:\d\d/ }).waitFor();
  await page.evaluate(() => (window.vigilNotReloaded = true));

  step("the scheduled run (test clock)");
  const clock = await fetch(`${base}/vigil/clock?to=${encodeURIComponent(env("VIGIL_CLOCK_TO"))}`, {
    method: "POST",
    headers: { Authorization: `Splunk ${env("VIGIL_HEC_TOKEN")}` },
  });
  if (!clock.ok) throw new Error(`clock: ${clock.status} ${await clock.text()}`);

  step("the notable appears without a reload, lit up as new");
  await page.waitForFunction((n) => document.querySelectorAll(".list tbody tr").length > n, before);
  await page.locator(".list tbody tr.fresh").first().waitFor();
  if (!(await page.evaluate(() => window.vigilNotReloaded))) fail("the page was reloaded");

  step("found with the Detection filter");
  await page.fill("input[name=detection]", detection);
  await page.press("input[name=detection]", "Enter");
  const rows = page.locator(".list tbody tr");
  // Applying dims the list (aria-busy) until the filtered rows are drawn.
  await page.waitForFunction(() => document.querySelector(".list tbody tr") && !document.querySelector(".list[aria-busy]"));
  const after = await rows.count();
  if (after <= before) throw new Error(`no new notable: ${before} before the run, ${after} after`);

  step("keyboard: Enter opens the row into the panel, Escape goes back to it");
  const detail = page.locator("#notable-detail");
  const focusIn = (sel) => page.evaluate((s) => !!document.activeElement?.closest(s), sel);
  await rows.first().focus();
  await page.keyboard.press("Enter");
  await detail.locator("select[name=status]").waitFor();
  if (!(await focusIn("#notable-detail"))) fail("Enter on a row did not move the focus into the detail panel");
  await page.keyboard.press("Tab");
  if (!(await focusIn("#notable-detail"))) fail("Tab from the panel's title left the panel");
  await page.keyboard.press("Escape");
  await detail.locator(".empty").waitFor();
  if (!(await page.evaluate(() => document.activeElement?.matches(".list tbody tr")))) fail("Escape did not return to the row");
  await page.keyboard.press("Enter");
  await detail.locator("select[name=status]").waitFor();

  step("set in progress with a comment, saved with Ctrl+Enter");
  const description = await detail.locator("p.description").innerText();
  if (!description.trim()) throw new Error("the detection's description is missing");
  if ((await detail.locator("table tbody tr").count()) === 0) throw new Error("no risk events in the detail panel");
  await detail.locator("select[name=status]").selectOption("in_progress");
  await detail.locator("#comment").fill(comment);
  await detail.locator("#comment").press("Control+Enter");

  step("the audit trail shows who changed what");
  const audit = detail.locator("#audit-trail");
  await audit.locator("li", { hasText: comment }).waitFor();
  const trail = await audit.innerText();
  if (!trail.includes("set status") || !trail.includes("in_progress"))
    throw new Error(`status change not in the audit trail:\n${trail}`);
  if (!trail.includes(env("VIGIL_USER"))) throw new Error(`audit trail does not name the user:\n${trail}`);
  await rows.first().locator(".badge.status-in_progress").waitFor();

  step("refreshes keep the selection, the open panel and the focus, and ignore unapplied filters");
  await page.fill("form.filters input[name=owner]", "nobody-at-all"); // typed, not applied
  await detail.locator("#comment").focus();
  await moreRefreshes(2);
  if (!(await page.evaluate(() => document.activeElement?.id === "comment"))) fail("a refresh moved the focus");
  if ((await rows.count()) !== after) fail("a refresh applied a filter nobody applied");
  if ((await page.locator(".list tbody tr.selected").count()) !== 1) fail("the selected row was lost in a refresh");
  if ((await audit.locator("li", { hasText: comment }).count()) !== 1) fail("the open panel changed in a refresh");
  await page.fill("form.filters input[name=owner]", "");

  step("a change made elsewhere is redrawn; the focused row and the selection stay");
  const selectedKey = await page.locator(".list tbody tr.selected").getAttribute("data-key");
  const focusedKey = await rows.nth(1).getAttribute("data-key");
  const changedKey = await rows.nth(2).getAttribute("data-key");
  await rows.nth(1).focus();
  await page.evaluate(async (id) => {
    const session = await fetch("/api/v1/auth/session").then((r) => r.json());
    const r = await fetch(`/api/v1/notables/${encodeURIComponent(id)}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf_token },
      body: JSON.stringify({ owner: "someone-else" }),
    });
    if (!r.ok) throw new Error(`PATCH: ${r.status} ${await r.text()}`);
  }, changedKey);
  await page.locator(`.list tbody tr[data-key="${changedKey}"]`, { hasText: "someone-else" }).waitFor();
  if ((await page.evaluate(() => document.activeElement?.dataset.key)) !== focusedKey) fail("the redraw moved the focus off its row");
  if ((await page.locator(".list tbody tr.selected").getAttribute("data-key")) !== selectedKey) fail("the redraw lost the selection");
  if ((await audit.locator("li", { hasText: comment }).count()) !== 1) fail("the redraw closed the open panel");

  await shot("incident-review");

  step("pause stops the refreshes, resume restarts them");
  await pauseLive();
  await page.locator(".live-bar .updated", { hasText: "paused" }).waitFor();
  const paused = await refreshes();
  // Nothing to wait for when nothing may happen: two refresh periods pass unrefreshed.
  await page.waitForTimeout(2200);
  if ((await refreshes()) !== paused) fail("the page refreshed while paused");
  walked.incidents = await tabWalk("Incident Review");
  await page.locator("#live-pause").focus();
  await page.keyboard.press("Enter");
  await page.locator("#live-pause[aria-pressed=false]").waitFor();
  await moreRefreshes(1);

  step("drill down into Search");
  await detail.locator("#drilldown").click();
  await page.locator("nav.tabs a.active", { hasText: "Search" }).waitFor();
  await page.locator(".job-state", { hasText: /done|failed|cancelled/ }).waitFor({ timeout: 60_000 });
  const status = await page.locator(".job-status").innerText();
  if (!/done/.test(status)) throw new Error(`search did not finish: ${status}`);
  // The results table follows the job's final state (its page is fetched after).
  await page.locator(".results tbody tr, .results .empty").first().waitFor();
  const results = await page.locator(".results tbody tr").count();
  if (results === 0) throw new Error(`the drill-down found no events: ${status}`);
  await page.locator("#histogram canvas").waitFor();
  await shot("search");

  step("Search pages its results by keyboard, and a reload shows the same job");
  const runSearch = async (spl, earliest, latest) => {
    await page.fill("#spl", spl);
    await page.selectOption("select[name=range]", "custom");
    await page.fill("input[name=earliest]", earliest);
    await page.fill("input[name=latest]", latest);
    await page.press("#spl", "Enter");
  };
  await runSearch(`search Computer=${loadHost} | table _time host Image CommandLine`, "2026-11-18T05:00:00Z", "2026-11-18T06:00:00Z");
  await page.locator(".job-state", { hasText: "done" }).waitFor({ timeout: 90_000 });
  const pagerText = (t) => page.locator(".results .pager", { hasText: t }).waitFor();
  await pagerText(`1–50 of ${loadPerHour}`);
  const firstTime = await page.locator(".results tbody tr td").first().innerText();
  await page.locator(".results .pager button", { hasText: "Next" }).focus();
  await page.keyboard.press("Enter");
  await pagerText(`51–100 of ${loadPerHour}`);
  if ((await page.locator(".results tbody tr td").first().innerText()) === firstTime) fail("page 2 shows page 1's rows");
  if (!(await focusIn(".results .pager"))) fail("paging lost the keyboard focus");
  const pagedJob = new URLSearchParams(page.url().split("?")[1]).get("sid");
  if (!pagedJob) fail(`the address does not name the job: ${page.url()}`);
  walked.search = await tabWalk("Search");
  await shot("search-paged");
  await page.reload();
  await page.locator(".job-state", { hasText: "done" }).waitFor();
  await pagerText(`1–50 of ${loadPerHour}`);
  if ((await page.inputValue("#spl")).indexOf(loadHost) < 0) fail("the reloaded page lost the search");

  step("Search cancels a running job");
  await runSearch(`search Computer=${loadHost} | stats count by Image`, "2026-11-17T00:00:00Z", "2026-11-20T00:00:00Z");
  await page.locator(".job-state", { hasText: "running" }).waitFor();
  await page.locator("#cancel:not(:disabled)").focus();
  await page.keyboard.press("Enter");
  await page.locator(".job-state", { hasText: "cancelled" }).waitFor();
  await page.locator(".results .empty", { hasText: "cancelled" }).waitFor();
  const cancelledJob = new URLSearchParams(page.url().split("?")[1]).get("sid");
  const viaApi = await page.evaluate((id) => fetch(`/api/v1/search/jobs/${id}`).then((r) => r.json()), cancelledJob);
  if (viaApi.state !== "cancelled") fail(`the API says the cancelled job is ${JSON.stringify(viaApi)}`);
  await shot("search-cancelled");

  step("Recent searches lists both jobs; Enter on one shows it again");
  await page.locator("#recent-jobs summary").focus();
  await page.keyboard.press("Enter");
  const recentRow = (id) => page.locator(`#recent-jobs tr[data-key="${id}"]`);
  await recentRow(cancelledJob).locator("td", { hasText: "cancelled" }).waitFor();
  await recentRow(pagedJob).focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction((id) => location.hash.includes(`sid=${id}`), pagedJob);
  await pagerText(`1–50 of ${loadPerHour}`);

  step("a job that is gone says so and offers to run the search again");
  expected404 = true;
  await page.goto(`${base}/#/search?q=${encodeURIComponent("search *")}&sid=0000000000000000`);
  await page.locator(".job-status .gone", { hasText: "gone" }).waitFor();
  await page.locator("#rerun").waitFor();
  expected404 = false;

  step("Risk: open the top object, its chart");
  await page.click("nav.tabs a[data-page=risk]");
  await page.locator("#content h1", { hasText: "Risk" }).waitFor();
  await page.locator("#risk-detail").waitFor();
  await page.locator(".list tbody tr").first().focus();
  await page.keyboard.press("Enter");
  await page.locator("#risk-chart canvas").waitFor();
  if (!(await focusIn("#risk-detail"))) fail("Enter on a risk object did not move the focus into its panel");
  await page.keyboard.press("Escape");
  if (!(await page.evaluate(() => document.activeElement?.matches(".list tbody tr.selected")))) fail("Escape did not return to the object");
  await pauseLive();
  walked.risk = await tabWalk("Risk");
  await shot("risk");

  step("Detections");
  await page.keyboard.press("Alt+3");
  await page.locator("#content h1", { hasText: "Detections" }).waitFor();
  await page.locator("table tbody tr", { hasText: detection }).waitFor();
  await pauseLive();
  walked.detections = await tabWalk("Detections");
  await shot("detections");

  step("Ingest");
  await page.click("nav.tabs a[data-page=ingest]");
  await page.locator("#content h1", { hasText: "Ingest" }).waitFor();
  await page.locator("#content table tbody tr").first().waitFor();
  await pauseLive();
  walked.ingest = await tabWalk("Ingest");
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
  console.log(
    JSON.stringify({
      ok: true,
      notables_before: before,
      notables_after: after,
      search_rows_on_page: results,
      job: status,
      paged_job: pagedJob,
      cancelled_job: cancelledJob,
      controls_walked: walked,
    }),
  );
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(`FAILED: ${e.stack ?? e}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

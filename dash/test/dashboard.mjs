// The dashboard in headless Chromium (Debian's chromium through playwright-core):
// sign-in, no console errors on any page, the charts' values, hostile device strings
// shown as text, halting from the UI (checked by the caller through the API), role
// refusals shown. Usage: node dashboard.mjs URL OPERATOR_TOKEN VIEWER_TOKEN ROLLOUT DEVICE SHOTS_DIR
import { chromium } from "playwright-core";

const [url, opToken, viewerToken, rollout, device, shots] = process.argv.slice(2);
const errors = [];
const fail = (m) => { console.error("FAIL: " + m); process.exit(1); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"],
});
async function session(token) {
  // bypassCSP: the escaping itself must hold, without the CSP as a second line (its header is checked by dashboard.sh)
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, viewport: { width: 1200, height: 900 } });
  const page = await ctx.newPage();
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url + "/dashboard/index.html");
  await page.waitForSelector("#login");
  await page.fill("#token", token);
  await page.click("#login button");
  await page.waitForSelector("#card-devices");
  return { ctx, page };
}
try {
  const { ctx, page } = await session(opToken);
  // the session cookie: HttpOnly (invisible to scripts), Secure, SameSite=Strict
  const cookies = await ctx.cookies();
  const c = cookies.find((x) => x.name === "fwt_session");
  if (!c || !c.httpOnly || !c.secure || c.sameSite !== "Strict") fail("cookie attributes: " + JSON.stringify(c));
  if ((await page.evaluate(() => document.cookie)).includes("fwt_session")) fail("the session cookie is readable by scripts");
  // overview: the scenario's values
  const txt = async (sel) => (await page.textContent(sel)).trim();
  if (!(await txt("#card-devices")).endsWith("6")) fail("devices card: " + await txt("#card-devices"));
  if (!(await txt("#card-tamper")).endsWith("1")) fail("tamper card: " + await txt("#card-tamper"));
  const values = JSON.parse(await page.getAttribute("#chart-success", "data-values"));
  if (values.length !== 1 || values[0] !== 0.75) fail("success chart values: " + JSON.stringify(values));
  await page.waitForSelector("#chart-success canvas");
  await page.screenshot({ path: shots + "/dashboard-overview.png", fullPage: true });
  // a device with hostile strings: shown as text, no script runs
  await page.goto(url + "/dashboard/index.html#/device/" + encodeURIComponent(device));
  await page.waitForSelector("#device-version");
  const body = await page.textContent("main");
  if (!body.includes("<img src=x onerror=")) fail("the hostile serial is not shown as text");
  if (!body.includes("<script>")) fail("the hostile report reason is not shown as text");
  if (await page.evaluate(() => window.__xss !== undefined)) fail("script injection ran");
  // a device without a TPM: the attestation part says so
  if ((await txt("#device-attestation")) !== "no attestation; attestation key: none")
    fail("attestation part: " + await txt("#device-attestation"));
  await page.screenshot({ path: shots + "/dashboard-device.png", fullPage: true });
  // the alerts page
  await page.goto(url + "/dashboard/index.html#/alerts");
  await page.waitForSelector("main table");
  // the rollout: halt from the UI
  await page.goto(url + "/dashboard/index.html#/rollout/" + encodeURIComponent(rollout));
  await page.waitForSelector("#btn-halt");
  await page.click("#btn-halt");
  await page.waitForFunction(() => document.getElementById("rollout-state").textContent === "halted");
  await page.screenshot({ path: shots + "/dashboard-rollout.png", fullPage: true });
  await ctx.close();
  // a viewer may look but not act: the server refuses, the page says so
  const v = await session(viewerToken);
  await v.page.goto(url + "/dashboard/index.html#/rollout/" + encodeURIComponent(rollout));
  await v.page.waitForSelector("#btn-resume");
  await v.page.click("#btn-resume");
  await v.page.waitForFunction(() => document.getElementById("action-result").textContent.includes("resume:"));
  const m = await v.page.textContent("#action-result");
  if (!m.includes("viewer role")) fail("viewer resume: " + m);
  await v.ctx.close();
  // 401/403 answers are expected by the viewer's refused action only
  const unexpected = errors.filter((e) => !e.includes("403"));
  if (unexpected.length) fail("console errors: " + unexpected.join(" | "));
  console.log("dashboard: ok");
} finally {
  await browser.close();
}

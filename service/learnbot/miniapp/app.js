// learnbot's starter Mini App: sign-in, the user and their linked accounts, the language, and
// for administrators the users. No build step: plain modules, served by the service at /app/.
import { Api, ApiError, segment } from "./api.js";
import { Catalog, SOURCE_CATALOG } from "./i18n.js";
import { linkProviders, startLinking } from "./linking.js";
import { followTelegram, hasBackButton, hideBackButton, showBackButton, webApp } from "./telegram.js";

const PAGE_SIZE = 10;
const SUMMARY = "You have %(count)d linked account.";
const tg = webApp();
const initData = tg?.initData ?? "";
const api = new Api(initData, tg?.initDataUnsafe?.user?.language_code ?? navigator.language);
const catalogs = new Map();

const state = {
  catalog: SOURCE_CATALOG,
  locales: [],
  greeting: "",
  me: null,
  providers: [],
  view: "main",
  admin: null,
  linking: false,
  busy: false,
};

function t(id, params) {
  return state.catalog.t(id, params);
}

// An element with attributes, listeners (onclick: ...) and children; text is never parsed as HTML.
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

// A provider's name as the service configures it; an account of a provider no longer
// configured shows its id.
function providerName(id) {
  return state.providers.find((provider) => provider.id === id)?.name ?? id;
}

function fullName(user) {
  return [user.first_name, user.last_name].filter(Boolean).join(" ");
}

async function catalogFor(locale) {
  const code = (locale || "en").replace("-", "_");
  if (!catalogs.has(code)) {
    const { content } = await api.get(`i18n/${segment(code)}`);
    catalogs.set(code, new Catalog(content));
  }
  return catalogs.get(code);
}

// Signs in, then reads the user in the language the service negotiated for them.
async function load() {
  const [signIn, locales, providers] = await Promise.all([
    api.post("auth/telegram", { init_data: initData }),
    api.get("i18n/locales"),
    linkProviders(api),
  ]);
  const [catalog, me] = await Promise.all([catalogFor(signIn.locale), api.get("me")]);
  state.locales = locales.content.locales;
  state.catalog = catalog;
  state.greeting = signIn.content.message;
  state.me = me.content;
  state.providers = providers;
}

async function reloadMe() {
  state.me = (await api.get("me")).content;
}

// Runs a step that calls the API; its failure is shown with the problem's detail, and with a
// retry when the service is unavailable or unreachable.
async function run(step, focus) {
  if (state.busy) return;
  state.busy = true;
  clearAlert();
  document.getElementById("view").setAttribute("aria-busy", "true");
  try {
    await step();
    render(focus);
  } catch (error) {
    await showError(error, () => run(step, focus));
  } finally {
    state.busy = false;
    document.getElementById("view").setAttribute("aria-busy", "false");
  }
}

function clearAlert() {
  const alert = document.getElementById("alert");
  alert.hidden = true;
  alert.replaceChildren();
}

async function showError(error, retry) {
  if (!(error instanceof ApiError)) console.error(error);
  // Before the first answer, the page speaks the language the service chose for the refusal.
  if (state.catalog === SOURCE_CATALOG && error instanceof ApiError && error.locale) {
    try {
      state.catalog = await catalogFor(error.locale);
      document.documentElement.lang = state.catalog.tag;
    } catch {
      // The ids themselves, in English.
    }
  }
  const apiError = error instanceof ApiError ? error : null;
  const alert = document.getElementById("alert");
  alert.replaceChildren(h("p", { id: "alert-detail" }, apiError?.problem?.detail ?? t("Something went wrong. Please try again.")));
  if (apiError?.status === 401) {
    // Init data Telegram handed over that no longer signs in: only a new launch brings new.
    alert.append(h("p", { id: "alert-hint" }, t("Close the Mini App and open it again from Telegram.")));
  }
  if (apiError?.retryable) {
    alert.append(h("button", { type: "button", id: "retry", class: "primary", onclick: retry }, t("Try again")));
  }
  alert.hidden = false;
  if (state.me === null) document.getElementById("view").replaceChildren();
}

function render(focus) {
  if (state.me === null) return;
  document.documentElement.lang = state.catalog.tag;
  const view = document.getElementById("view");
  const parts = state.view === "admin" ? adminView() : mainView();
  view.replaceChildren(...parts.filter((part) => part !== null));
  if (focus) view.querySelector(focus)?.focus();
}

function mainView() {
  const { user, accounts, is_admin: isAdmin } = state.me;
  return [
    h(
      "header",
      { class: "card" },
      h("h1", { id: "greeting" }, state.greeting),
      h(
        "p",
        { class: "user" },
        h("span", { id: "user-name" }, fullName(user)),
        user.username ? h("span", { class: "hint" }, ` @${user.username}`) : null,
      ),
      h("dl", {}, h("dt", {}, t("Telegram id")), h("dd", { id: "telegram-id" }, String(user.telegram_id))),
      isAdmin ? h("p", { class: "badge" }, t("Administrator")) : null,
    ),
    isAdmin
      ? h("button", { type: "button", id: "open-admin", class: "primary wide", onclick: openAdmin }, t("Manage users"))
      : null,
    accountsSection(accounts),
    settingsSection(),
  ];
}

function accountsSection(accounts) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "accounts-title" },
    h("h2", { id: "accounts-title" }, t("Linked accounts")),
    h("p", { id: "accounts-summary" }, state.catalog.n(SUMMARY, accounts.length)),
    accounts.length
      ? h(
          "ul",
          { id: "accounts", class: "rows" },
          accounts.map((account, index) =>
            h(
              "li",
              { "data-provider": account.provider },
              h(
                "span",
                { id: `account-${index}`, class: "grow" },
                h("strong", {}, providerName(account.provider)),
                " ",
                account.display_name ?? account.external_id,
              ),
              h(
                "button",
                { type: "button", class: "danger", "aria-describedby": `account-${index}`, onclick: () => unlink(account) },
                t("Unlink"),
              ),
            ),
          ),
        )
      : null,
    state.providers.length
      ? h(
          "div",
          { class: "actions", id: "link-providers" },
          state.providers.map((provider) =>
            h(
              "button",
              { type: "button", "data-provider": provider.id, onclick: () => link(provider.id) },
              t("Link %(provider)s", { provider: provider.name }),
            ),
          ),
        )
      : null,
  );
}

function settingsSection() {
  return h(
    "section",
    { class: "card", "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title" }, t("Settings")),
    h("label", { for: "language" }, t("Language")),
    h(
      "select",
      { id: "language", onchange: (event) => switchLanguage(event.target.value) },
      state.locales.map((locale) =>
        h(
          "option",
          { value: locale.code, lang: locale.code.replace("_", "-"), selected: locale.code === state.catalog.locale },
          locale.name,
        ),
      ),
    ),
  );
}

function adminView() {
  const admin = state.admin;
  return [
    hasBackButton(tg) ? null : h("button", { type: "button", id: "back", onclick: closeAdmin }, t("Back")),
    h("h1", { tabindex: "-1" }, t("Users")),
    h("ul", { id: "users", class: "rows" }, admin.users.map(userRow)),
    h(
      "nav",
      { class: "actions", "aria-label": t("Pages") },
      h("button", { type: "button", id: "previous-page", disabled: admin.index === 0, onclick: previousPage }, t("Previous page")),
      h("button", { type: "button", id: "next-page", disabled: admin.next === null, onclick: nextPage }, t("Next page")),
    ),
  ];
}

function userRow(user) {
  const self = user.telegram_id === state.me.user.telegram_id;
  return h(
    "li",
    { "data-telegram-id": user.telegram_id },
    h(
      "div",
      { class: "grow" },
      h("div", {}, h("strong", {}, fullName(user)), user.username ? h("span", { class: "hint" }, ` @${user.username}`) : null),
      h("div", { class: "hint" }, `${t("Telegram id")} ${user.telegram_id}`),
      h("div", { class: user.is_blocked ? "status blocked" : "status" }, user.is_blocked ? t("Blocked") : t("Active")),
    ),
    self
      ? null
      : h(
          "button",
          { type: "button", class: user.is_blocked ? "" : "danger", onclick: () => setBlocked(user, !user.is_blocked) },
          user.is_blocked ? t("Unblock") : t("Block"),
        ),
  );
}

// A modal question; true when the user confirms.
function confirmed(question, action) {
  const dialog = document.getElementById("confirm");
  const ok = document.getElementById("confirm-ok");
  const cancel = document.getElementById("confirm-cancel");
  document.getElementById("confirm-question").textContent = question;
  ok.textContent = action;
  cancel.textContent = t("Cancel");
  return new Promise((resolve) => {
    const finish = (answer) => {
      dialog.removeEventListener("close", dismissed);
      ok.onclick = null;
      cancel.onclick = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const dismissed = () => finish(false);
    ok.onclick = () => finish(true);
    cancel.onclick = () => finish(false);
    dialog.addEventListener("close", dismissed);
    dialog.showModal();
  });
}

async function unlink(account) {
  if (!(await confirmed(t("Unlink your %(provider)s account?", { provider: providerName(account.provider) }), t("Unlink")))) {
    return;
  }
  await run(async () => {
    await api.delete(`me/accounts/${segment(account.provider)}`);
    await reloadMe();
  }, "#accounts-title");
}

async function link(provider) {
  await run(async () => {
    await startLinking(api, tg, provider);
    state.linking = true;
  });
}

async function switchLanguage(locale) {
  await run(async () => {
    await api.put("me/locale", { locale });
    await load();
  }, "#language");
}

function openAdmin() {
  state.view = "admin";
  state.admin = { cursors: [null], index: 0, users: [], next: null };
  showBackButton(tg, closeAdmin);
  run(loadUsers, "h1");
}

function closeAdmin() {
  state.view = "main";
  state.admin = null;
  hideBackButton(tg);
  clearAlert();
  render("#open-admin");
}

async function loadUsers() {
  const admin = state.admin;
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  const cursor = admin.cursors[admin.index];
  if (cursor) query.set("cursor", cursor);
  const { content } = await api.get(`admin/users?${query}`);
  admin.users = content.users;
  admin.next = content.next_cursor;
}

function nextPage() {
  const admin = state.admin;
  admin.cursors[admin.index + 1] = admin.next;
  admin.index += 1;
  run(loadUsers, "#next-page");
}

function previousPage() {
  state.admin.index -= 1;
  run(loadUsers, "#previous-page");
}

async function setBlocked(user, blocked) {
  const name = fullName(user);
  const question = blocked ? t("Block %(name)s?", { name }) : t("Unblock %(name)s?", { name });
  if (!(await confirmed(question, blocked ? t("Block") : t("Unblock")))) return;
  await run(async () => {
    const { content } = await api.post(`admin/users/${segment(user.telegram_id)}/${blocked ? "block" : "unblock"}`);
    state.admin.users = state.admin.users.map((row) => (row.telegram_id === content.telegram_id ? content : row));
  }, `#users li[data-telegram-id="${user.telegram_id}"] button`);
}

// Outside Telegram there is no init data to sign in with.
async function outsideTelegram() {
  try {
    const { content } = await api.get("i18n/locales");
    const wanted = (api.languageHint ?? "").toLowerCase().replace("_", "-");
    const codes = content.locales.map((locale) => locale.code);
    const code =
      codes.find((c) => c.toLowerCase().replace("_", "-") === wanted) ??
      codes.find((c) => c.split("_")[0] === wanted.split("-")[0]) ??
      content.default;
    state.catalog = await catalogFor(code);
  } catch {
    // The ids themselves, in English.
  }
  document.documentElement.lang = state.catalog.tag;
  document.getElementById("view").replaceChildren(
    h("p", { class: "card", id: "outside-telegram" }, t("Open this page from Telegram: it signs you in with the data Telegram gives a Mini App.")),
  );
}

document.addEventListener("visibilitychange", () => {
  // Back from the provider's page: the account may be linked now.
  if (document.visibilityState === "visible" && state.linking && state.me !== null) {
    state.linking = false;
    run(reloadMe);
  }
});

followTelegram(tg);
if (initData) {
  await run(load);
} else {
  await outsideTelegram();
}
document.getElementById("view").setAttribute("aria-busy", "false");
tg?.ready();

// What the page takes from Telegram.WebApp: init data, theme, viewport and the back button.

const COLOR = /^#[0-9a-fA-F]{3,8}$/;
const THEME_KEY = /^[a-z_]{1,40}$/;

export function webApp() {
  return window.Telegram?.WebApp ?? null;
}

// themeParams as CSS variables (--tg-theme-bg-color, ...), and the colour scheme.
export function applyTheme(tg) {
  const root = document.documentElement;
  for (const [key, value] of Object.entries(tg?.themeParams ?? {})) {
    if (THEME_KEY.test(key) && typeof value === "string" && COLOR.test(value)) {
      root.style.setProperty(`--tg-theme-${key.replaceAll("_", "-")}`, value);
    }
  }
  root.dataset.colorScheme = tg?.colorScheme === "dark" ? "dark" : "light";
}

export function applyViewport(tg) {
  const height = tg?.viewportStableHeight;
  if (typeof height === "number" && height > 0) {
    document.documentElement.style.setProperty("--viewport-height", `${Math.round(height)}px`);
  }
}

export function followTelegram(tg) {
  applyTheme(tg);
  applyViewport(tg);
  if (!tg) return;
  tg.onEvent("themeChanged", () => applyTheme(tg));
  tg.onEvent("viewportChanged", () => applyViewport(tg));
  tg.expand();
}

// Telegram's back button from Bot API 6.1; older clients (and a browser outside Telegram) get
// the page's own.
export function hasBackButton(tg) {
  return Boolean(tg?.BackButton && tg.isVersionAtLeast?.("6.1"));
}

export function showBackButton(tg, onBack) {
  if (!hasBackButton(tg)) return;
  tg.BackButton.offClick(showBackButton.handler ?? (() => {}));
  showBackButton.handler = onBack;
  tg.BackButton.onClick(onBack);
  tg.BackButton.show();
}

export function hideBackButton(tg) {
  if (!hasBackButton(tg)) return;
  if (showBackButton.handler) tg.BackButton.offClick(showBackButton.handler);
  showBackButton.handler = null;
  tg.BackButton.hide();
}

export function openExternal(tg, url) {
  const parsed = new URL(url);
  // As the service holds a provider's URLs: https, or http on this machine (development).
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname);
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && loopback)) {
    throw new Error("not an https URL");
  }
  if (tg?.openLink) tg.openLink(parsed.href);
  else window.open(parsed.href, "_blank", "noopener");
}

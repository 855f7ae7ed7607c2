// Linking a third-party account through OAuth: the service answers
// POST /me/accounts/{provider}/authorize with the provider's authorization URL, which Telegram
// opens outside the Mini App; the provider sends the user back to the service, which links the
// account, and the page reads the accounts again when it is shown again.
import { segment } from "./api.js";
import { openExternal } from "./telegram.js";

// The providers the service links accounts through ({id, name, kind}); none when it has none.
export async function linkProviders(api) {
  const { content } = await api.get("auth/oauth/providers");
  return Array.isArray(content?.providers) ? content.providers : [];
}

export async function startLinking(api, tg, provider) {
  const { content } = await api.post(`me/accounts/${segment(provider)}/authorize`, {});
  openExternal(tg, content?.authorization_url);
}

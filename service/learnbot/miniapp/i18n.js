// The page's strings, from the service's gettext catalogs (GET /i18n/{locale}). A message id is
// the English source text; a plural message maps CLDR categories (one, few, many, other) to text.

export function tagOf(locale) {
  return locale.replace("_", "-");
}

// Python's %-formatting as the catalogs use it: %(name)s, %(name)d and %%.
export function format(text, params = {}) {
  return text.replace(/%(?:\((\w+)\)([sd])|%)/g, (whole, name, kind) => {
    if (name === undefined) return "%";
    if (!Object.hasOwn(params, name)) return whole;
    const value = params[name];
    return kind === "d" ? String(Math.trunc(Number(value))) : String(value);
  });
}

export class Catalog {
  constructor(document) {
    this.locale = document.locale;
    this.name = document.name;
    this.messages = document.messages;
    this.rules = new Intl.PluralRules(tagOf(document.locale));
  }

  get tag() {
    return tagOf(this.locale);
  }

  t(id, params) {
    const text = this.messages[id];
    return format(typeof text === "string" ? text : id, params);
  }

  // The plural message whose singular id is `id`, for `count`.
  n(id, count, params = {}) {
    const forms = this.messages[id];
    let text = id;
    if (forms !== null && typeof forms === "object") {
      text = forms[this.rules.select(count)] ?? forms.other ?? id;
    }
    return format(text, { count, ...params });
  }
}

// A catalog for before the service has answered, or when it cannot: the ids themselves.
export const SOURCE_CATALOG = new Catalog({ locale: "en", name: "English", messages: {} });

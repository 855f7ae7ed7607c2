"""What a browser does between learnbot's authorization URL and its callback: follow the
provider's redirects with its cookies, fill in its sign-in form, submit its consent form, or
follow its cancel link, until the provider sends the browser back to learnbot."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

PASSWORD = "any password"


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    text_inputs: list[str] = field(default_factory=list)
    password_inputs: list[str] = field(default_factory=list)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(attributes.get("action", ""), attributes.get("method", "get")))
        elif tag == "input" and self.forms and "name" in attributes:
            form, name = self.forms[-1], attributes["name"]
            kind = attributes.get("type", "text")
            if kind == "password":
                form.password_inputs.append(name)
            elif kind in ("text", "email"):
                form.text_inputs.append(name)
            else:
                form.fields[name] = attributes.get("value", "")
        elif tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])


class Browser:
    """An HTTP client with cookies that stops at redirects, so each step is seen."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=15, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sign_in(
        self, authorization_url: str, *, login: str, back_to: str, cancel: bool = False
    ) -> str:
        """Signs in at the provider as `login` and consents (or, with `cancel`, follows the
        page's cancel link); returns the URL the provider sends the browser to, which starts
        with `back_to`, without requesting it."""
        response = self.http.get(authorization_url)
        for _ in range(20):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(back_to):
                    return target
                response = self.http.get(target)
                continue
            if response.status_code != 200:
                raise AssertionError(
                    f"{response.url} answered {response.status_code}: {response.text}"
                )
            page = _Page()
            page.feed(response.text)
            if cancel:
                link = next(h for h in page.links if "abort" in h or "cancel" in h)
                response = self.http.get(urljoin(str(response.url), link))
                continue
            form = page.forms[0]
            data = dict(form.fields)
            data.update({name: login for name in form.text_inputs})
            data.update({name: PASSWORD for name in form.password_inputs})
            target = urljoin(str(response.url), form.action)
            response = self.http.post(target, data=data)
        raise AssertionError(f"the provider did not send the browser back to {back_to}")

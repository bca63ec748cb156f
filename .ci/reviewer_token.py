"""Prints an access token of a reviewer with the `review` scope, for .ci/run's
API conformance step: signs the reviewer in through the authorization code
flow as a browser would (cookies, the login form with its CSRF token, the
redirects followed by hand), then redeems the code at the token endpoint.

Usage: reviewer_token.py BASE CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME
(the password on standard input, so it stays out of the process list).
"""

import base64
import http.cookiejar
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    base, client_id, secret, redirect_uri, username = sys.argv[1:6]
    password = sys.stdin.readline().rstrip("\n")
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
    )

    def send(path, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with opener.open(base + path, data=data) as r:
                return r.status, r.headers.get("Location"), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Location"), e.read().decode()

    authorize = "/authorize?" + urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid review",
            "state": "ci",
        }
    )
    status, location, body = send(authorize)
    for _ in range(6):
        if location and location.startswith(redirect_uri):
            break
        if location:
            status, location, body = send(location)
            continue
        if status == 200 and 'action="/login"' in body:
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
            fields = {k: v.replace("&#38;", "&").replace("&amp;", "&") for k, v in fields.items()}
            fields.update({"identifier": username, "password": password})
            status, location, body = send("/login", fields)
            continue
        sys.exit(f"the sign-in stopped at {status}: {body[:500]}")
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location or "").query).get("code")
    if not code:
        sys.exit(f"no authorization code in {location!r}")
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(
        base + "/token",
        data=urllib.parse.urlencode(
            {"grant_type": "authorization_code", "code": code[0], "redirect_uri": redirect_uri}
        ).encode(),
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(request) as r:
        print(json.load(r)["access_token"])


if __name__ == "__main__":
    main()

"""Schemathesis hooks for .ci/run's API conformance step.

Two callers take part: a service account (its token authenticates every
operation but the review operations) and a reviewer, whose own token with
the `review` scope authenticates the review operations (/api/v1/review/…),
which no service account may call. Each call carries the token of the
caller that operation is for.

The run's stateful phase reads client ids from GET /api/v1/clients and
feeds them to the operations that change or remove a client, so it would
sooner or later strip the service account of its `admin` scope (or delete
it) and every later call would be an uninteresting 403. Calls that would
change that one client go to a client id that does not exist instead (a
documented 404). The same holds for the reviewer's client.
"""

import os

import schemathesis

SERVICE_ACCOUNT = os.environ.get("TONGXING_CI_SERVICE_ACCOUNT", "ci-conformance")
REVIEW_CLIENT = os.environ.get("TONGXING_CI_REVIEW_CLIENT", "ci-review-desk")
ADMIN_TOKEN = os.environ.get("TONGXING_CI_ADMIN_TOKEN", "")
REVIEW_TOKEN = os.environ.get("TONGXING_CI_REVIEW_TOKEN", "")
REVIEW_PATHS = "/api/v1/review/"


@schemathesis.hook
def before_call(ctx, case, kwargs):
    params = case.path_parameters or {}
    if case.method.upper() != "GET" and params.get("id") in (SERVICE_ACCOUNT, REVIEW_CLIENT):
        params["id"] = params["id"] + "-not-registered"
    review = case.operation.path.startswith(REVIEW_PATHS)
    token = REVIEW_TOKEN if review else ADMIN_TOKEN
    if token:
        if case.headers is None:
            case.headers = {}
        case.headers["Authorization"] = f"Bearer {token}"

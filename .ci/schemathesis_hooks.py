"""Schemathesis hooks for .ci/run's API conformance step.

The run authenticates as one service account. Its stateful phase reads
client ids from GET /api/v1/clients and feeds them to the operations that
change or remove a client, so it would sooner or later strip the service
account of its `admin` scope (or delete it) and every later call would be
an uninteresting 403. Calls that would change that one client go to a
client id that does not exist instead (a documented 404).
"""

import os

import schemathesis

SERVICE_ACCOUNT = os.environ.get("TONGXING_CI_SERVICE_ACCOUNT", "ci-conformance")


@schemathesis.hook
def before_call(ctx, case, kwargs):
    params = case.path_parameters or {}
    if case.method.upper() != "GET" and params.get("id") == SERVICE_ACCOUNT:
        params["id"] = SERVICE_ACCOUNT + "-not-registered"

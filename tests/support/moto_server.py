#!/usr/bin/env python3
"""moto_server, with one fix to its IAM signature check, for keys holding `=` and the like.

With IAM enforced, moto recomputes each request's SigV4 signature from the request path after
the web framework has percent-decoded it (`tenant=acme`), while every SDK signs the path as it
sent it, percent-encoded (`tenant%3Dacme`); S3's signer uses the path as given. So moto refuses
every correctly signed request for a Hive-style key (`tenant=acme/year=2026/...`) with
SignatureDoesNotMatch, and AWS accepts it. This wrapper re-encodes the path the way the SDKs
do (RFC 3986 unreserved characters and `/` kept) before moto signs it. Nothing else changes:
the signature is still checked, then the IAM policies, trust policies and external ids.
Run it as `python3 moto_server.py -H 127.0.0.1 -p PORT` (moto_server's own arguments).
"""
import sys
from urllib.parse import quote

from moto.iam import access_control
from moto.server import main

_create_aws_request = access_control.IAMRequestBase._create_aws_request


def _create_aws_request_with_encoded_path(self):
    path, sep, query = self._path.partition("?")
    self._path = quote(path, safe="/~") + sep + query
    return _create_aws_request(self)


access_control.IAMRequestBase._create_aws_request = _create_aws_request_with_encoded_path

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

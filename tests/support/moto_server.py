#!/usr/bin/env python3
"""moto_server, with two fixes: its IAM signature check (keys holding `=`), and the bucket and
table properties its CloudFormation ignores.

With IAM enforced, moto recomputes each request's SigV4 signature from the request path after
the web framework has percent-decoded it (`tenant=acme`), while every SDK signs the path as it
sent it, percent-encoded (`tenant%3Dacme`); S3's signer uses the path as given. So moto refuses
every correctly signed request for a Hive-style key (`tenant=acme/year=2026/...`) with
SignatureDoesNotMatch, and AWS accepts it. This wrapper re-encodes the path the way the SDKs
do (RFC 3986 unreserved characters and `/` kept) before moto signs it, and the query string
likewise (`prefix=a/b` back to `prefix=a%2Fb`, as ListObjectsV2 with a prefix sends it). Nothing else changes:
the signature is still checked, then the IAM policies, trust policies and external ids.

moto's CloudFormation creates an AWS::S3::Bucket with its encryption and tags only, and an
AWS::DynamoDB::Table without its TimeToLiveSpecification, where CloudFormation applies them all.
The second fix passes the ignored properties (ownership controls, public access block,
versioning; TTL) to moto's own S3 and DynamoDB backends, the ones PutBucketOwnershipControls,
PutPublicAccessBlock, PutBucketVersioning and UpdateTimeToLive use, and creates
AWS::S3::BucketPolicy (which it skips) with PutBucketPolicy, so that a stack created from
our templates can be read back as declared (tests/tests/infrastructure.rs).

Run it as `python3 moto_server.py -H 127.0.0.1 -p PORT` (moto_server's own arguments).
"""
import json
import sys
from urllib.parse import quote, unquote

from moto.core.common_models import CloudFormationModel

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.iam import access_control
from moto.s3.models import FakeBucket, s3_backends
from moto.server import main
from moto.utilities.utils import get_partition

_create_aws_request = access_control.IAMRequestBase._create_aws_request


def _sigv4_query(query):
    """The query as SigV4 canonicalizes it: every name and value percent-encoded except for
    unreserved characters. The web framework hands moto `prefix=a/b` where the SDK sent and
    signed `prefix=a%2Fb`."""
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        pairs.append(quote(unquote(name), safe="-_.~") + eq + quote(unquote(value), safe="-_.~"))
    return "&".join(pairs)


def _create_aws_request_with_encoded_path(self):
    path, sep, query = self._path.partition("?")
    self._path = quote(path, safe="/~") + sep + (_sigv4_query(query) if query else "")
    return _create_aws_request(self)


access_control.IAMRequestBase._create_aws_request = _create_aws_request_with_encoded_path

_create_bucket = FakeBucket.create_from_cloudformation_json.__func__
_create_table = Table.create_from_cloudformation_json.__func__


def _create_bucket_as_declared(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    bucket = _create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    properties = cloudformation_json.get("Properties", {})
    backend = s3_backends[account_id][get_partition(region_name)]
    for rule in properties.get("OwnershipControls", {}).get("Rules", [])[:1]:
        backend.put_bucket_ownership_controls(bucket.name, rule["ObjectOwnership"])
    if "PublicAccessBlockConfiguration" in properties:
        backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
    if "VersioningConfiguration" in properties:
        backend.put_bucket_versioning(bucket.name, properties["VersioningConfiguration"]["Status"])
    return bucket


def _create_table_as_declared(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    table = _create_table(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    ttl = cloudformation_json["Properties"].get("TimeToLiveSpecification")
    if ttl is not None:
        dynamodb_backends[account_id][region_name].update_time_to_live(table.name, ttl)
    return table


class BucketPolicyAsDeclared(CloudFormationModel):
    """AWS::S3::BucketPolicy, which moto's CloudFormation skips with a warning: applied with the
    backend's PutBucketPolicy."""

    # moto's model registry files each model under a service named by its module.
    __module__ = "moto.s3.models"

    def __init__(self, bucket_name):
        self.bucket_name = bucket_name

    @staticmethod
    def cloudformation_type():
        return "AWS::S3::BucketPolicy"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @property
    def physical_resource_id(self):
        return self.bucket_name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = s3_backends[account_id][get_partition(region_name)]
        policy = dict(properties["PolicyDocument"])
        # moto resolves `!If [..., !Ref AWS::NoValue]` to null where CloudFormation removes the
        # list item: drop those statements, as CloudFormation does.
        policy["Statement"] = [s for s in policy.get("Statement", []) if s is not None]
        document = json.dumps(policy).encode()
        backend.put_bucket_policy(properties["Bucket"], document)
        return cls(properties["Bucket"])


FakeBucket.create_from_cloudformation_json = classmethod(_create_bucket_as_declared)
Table.create_from_cloudformation_json = classmethod(_create_table_as_declared)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

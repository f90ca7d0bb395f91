#!/usr/bin/env python3
"""Independent AWS-side setup and checks for the export tests, with boto3 (not our SDK code).

Run against moto_server (scripts/moto.sh exports its endpoints and an admin key). Subcommands
print JSON on stdout:
  bucket NAME                       a bucket with ACLs disabled (BucketOwnerEnforced) and all
                                    four public access blocks; prints what S3 then reports
  role NAME BUCKET PREFIX EXTERNAL_ID [--no-write]
                                    a role the caller may assume only with EXTERNAL_ID, allowed
                                    s3:PutObject and s3:GetObject under PREFIX (none with
                                    --no-write); prints its ARN
  delivered BUCKET PREFIX           every *.ndjson.gz and *.ndjson.zst object under PREFIX,
                                    decompressed (gzip, zstandard): ids with
                                    how often each appears, keys, each object's content type, and
                                    each object's key, SHA-256 (as stored) and text; and every
                                    digest (*_digest.json) with its key, content type and text
  get-base64 BUCKET KEY             one object's bytes, base64
  put-base64 BUCKET KEY BYTES       writes (or overwrites) one object with base64 BYTES
  get BUCKET KEY                    one object's body as text
  tamper BUCKET KEY ACTION          damages one object in place: modify (edits its first line's
                                    event and compresses it again), delete, or truncate (keeps
                                    half its bytes)
  put-bucket-policy BUCKET POLICY   PutBucketPolicy with the JSON document POLICY on a new bucket
                                    BUCKET; prints the policy GetBucketPolicy then returns
  put-trust-policy ROLE POLICY      a new role ROLE, then UpdateAssumeRolePolicy with the JSON
                                    document POLICY (moto validates it as IAM does); prints the
                                    trust policy GetRole then returns
"""
import base64
import gzip
import hashlib
import json
import os
import sys

import boto3
import zstandard


def decompress(key, body):
    """An export object's text, by its suffix."""
    if key.endswith(".ndjson.zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(body).decode("utf-8")
    return gzip.decompress(body).decode("utf-8")


def compress(key, text):
    if key.endswith(".ndjson.zst"):
        return zstandard.ZstdCompressor().compress(text.encode("utf-8"))
    return gzip.compress(text.encode("utf-8"))


def client(service):
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    return boto3.client(service, endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))


def bucket(name):
    s3 = client("s3")
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    ownership = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    return {"ownership": ownership, "public_access_block": block}


def role(name, bucket_name, prefix, external_id, *flags):
    caller = client("sts").get_caller_identity()["Arn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": caller},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
        }],
    }
    iam = client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if "--no-write" not in flags:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                # The objects, and their digests beside them (as `auditlog policy bucket`).
                "Resource": [
                    f"arn:aws:s3:::{bucket_name}/{prefix}*",
                    f"arn:aws:s3:::{bucket_name}/auditlog-digest/{prefix}*",
                ],
            }],
        }
        iam.put_role_policy(RoleName=name, PolicyName="write-audit-prefix", PolicyDocument=json.dumps(policy))
    return {"arn": arn}


def user(name, bucket_name, prefix):
    """An IAM user with a static access key that may write and read the prefix (and its digests)
    and list the bucket: an S3-compatible store's kind of credential."""
    iam = client("iam")
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": [
                    f"arn:aws:s3:::{bucket_name}/{prefix}*",
                    f"arn:aws:s3:::{bucket_name}/auditlog-digest/{prefix}*",
                ],
            },
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{bucket_name}"]},
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="write-audit-prefix", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def tamper(bucket_name, key, action):
    s3 = client("s3")
    if action == "delete":
        s3.delete_object(Bucket=bucket_name, Key=key)
        return {"deleted": key}
    body = s3.get_object(Bucket=bucket_name, Key=key)["Body"].read()
    if action == "truncate":
        damaged = body[: len(body) // 2]
    elif action == "modify":
        damaged = compress(key, decompress(key, body).replace("doc.update", "doc.delete", 1))
    else:
        raise SystemExit(f"unknown tampering {action}")
    s3.put_object(Bucket=bucket_name, Key=key, Body=damaged)
    return {"tampered": key, "action": action}


def put_bucket_policy(bucket_name, policy):
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket_name, ObjectOwnership="BucketOwnerEnforced")
    s3.put_bucket_policy(Bucket=bucket_name, Policy=policy)
    return json.loads(s3.get_bucket_policy(Bucket=bucket_name)["Policy"])


def put_trust_policy(role_name, policy):
    iam = client("iam")
    placeholder = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(placeholder))
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=policy)
    return iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]


def delivered(bucket_name, prefix):
    s3 = client("s3")
    ids, keys, types, objects, digests = {}, [], {}, [], []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket_name, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("_digest.json"):
                obj = s3.get_object(Bucket=bucket_name, Key=key)
                text = obj["Body"].read().decode("utf-8")
                digests.append({"key": key, "content_type": obj.get("ContentType"), "text": text})
                continue
            keys.append(key)
            if not key.endswith((".ndjson.gz", ".ndjson.zst")):
                continue
            obj = s3.get_object(Bucket=bucket_name, Key=key)
            types[key] = obj.get("ContentType")
            body = obj["Body"].read()
            text = decompress(key, body)
            objects.append({"key": key, "sha256": hashlib.sha256(body).hexdigest(), "text": text})
            for line in text.splitlines():
                event_id = json.loads(line)["id"]
                ids[event_id] = ids.get(event_id, 0) + 1
    return {"ids": ids, "keys": sorted(keys), "content_types": types, "objects": objects, "digests": digests}


def get_base64(bucket_name, key):
    body = client("s3").get_object(Bucket=bucket_name, Key=key)["Body"].read()
    return {"base64": base64.b64encode(body).decode("ascii")}


def put_base64(bucket_name, key, data):
    client("s3").put_object(Bucket=bucket_name, Key=key, Body=base64.b64decode(data))
    return {"put": key}


def get(bucket_name, key):
    return {"body": client("s3").get_object(Bucket=bucket_name, Key=key)["Body"].read().decode("utf-8")}


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    commands = {
        "bucket": bucket,
        "role": role,
        "user": user,
        "delivered": delivered,
        "get": get,
        "get-base64": get_base64,
        "put-base64": put_base64,
        "tamper": tamper,
        "put-bucket-policy": put_bucket_policy,
        "put-trust-policy": put_trust_policy,
    }
    print(json.dumps(commands[command](*args)))

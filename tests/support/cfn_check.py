#!/usr/bin/env python3
"""Creates a template's plain CloudFormation resources in moto's CloudFormation (the endpoint in
AWS_ENDPOINT_URL_S3; tests/support/moto_server.py completes what moto skips), then reads back
with boto3 what was created and prints it as JSON.

Usage: cfn_check.py TEMPLATE STACK_NAME PARAMETERS_JSON [LOGICAL_ID=ARN ...]

The SAM parts of template.yaml (functions, the HTTP API, alarms on them) are left out: moto does
not run the SAM transform. Each LOGICAL_ID=ARN stands in for `!GetAtt LOGICAL_ID.Arn` of a
left-out resource (ExportFunctionRole, which SAM creates). Prints the stack status and, for
each created table, bucket and role, what a reviewer checks: keys, TTL, ownership controls,
public access block, encryption, versioning, lifecycle, policy, trust policy.
"""
import ast
import json
import os
import sys

import boto3
from cfnlint.decode import decode_str

PLAIN = (
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::KMS::Key",
    "AWS::IAM::Role",
)


def client(service):
    # One moto server holds every service; the stack and what it creates live there.
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )


def substitute(node, replacements):
    """Replaces `!GetAtt X.Arn` of a left-out resource X by the given ARN."""
    if isinstance(node, dict):
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            name = target[0] if isinstance(target, list) else str(target).split(".")[0]
            if name in replacements:
                return replacements[name]
        return {k: substitute(v, replacements) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, replacements) for v in node]
    return node


def missing_is_none(call):
    try:
        return call()
    except Exception as e:  # boto3 raises a ClientError subclass per service
        if "NoSuch" in str(e) or "NotFound" in str(e):
            return None
        raise


def describe_bucket(s3, name):
    policy = missing_is_none(lambda: s3.get_bucket_policy(Bucket=name))
    lifecycle = missing_is_none(lambda: s3.get_bucket_lifecycle_configuration(Bucket=name))
    ownership = missing_is_none(lambda: s3.get_bucket_ownership_controls(Bucket=name))
    block = missing_is_none(lambda: s3.get_public_access_block(Bucket=name))
    encryption = missing_is_none(lambda: s3.get_bucket_encryption(Bucket=name))
    return {
        "name": name,
        "ownership": ownership and ownership["OwnershipControls"]["Rules"],
        "public_access_block": block and block["PublicAccessBlockConfiguration"],
        "encryption": encryption and encryption["ServerSideEncryptionConfiguration"]["Rules"],
        "versioning": s3.get_bucket_versioning(Bucket=name).get("Status"),
        "lifecycle": lifecycle and lifecycle["Rules"],
        "policy": policy and json.loads(policy["Policy"]),
    }


def main():
    path, stack, parameters = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    replacements = dict(arg.split("=", 1) for arg in sys.argv[4:])
    with open(path) as f:
        template, problems = decode_str(f.read())
    if problems:
        raise SystemExit(f"cannot read {path}: {problems}")
    resources = {k: v for k, v in template["Resources"].items() if v["Type"] in PLAIN}
    plain = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Conditions": template.get("Conditions", {}),
        "Parameters": template.get("Parameters", {}),
        "Resources": substitute(resources, replacements),
    }
    if len(resources) == len(template["Resources"]):
        plain["Outputs"] = template.get("Outputs", {})
    cfn = client("cloudformation")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(plain),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    created = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
        # moto lists a resource whose condition is false as an entry without ids.
        if "LogicalResourceId" in r
    }
    out = {"status": status, "created": sorted(created), "tables": {}, "buckets": {}, "roles": {}}
    ddb, s3, iam = client("dynamodb"), client("s3"), client("iam")
    for logical, spec in resources.items():
        physical = created.get(logical)
        if physical is None:
            continue
        if spec["Type"] == "AWS::DynamoDB::Table":
            table = ddb.describe_table(TableName=physical)["Table"]
            out["tables"][logical] = {
                "name": physical,
                "keys": [k["AttributeName"] for k in table["KeySchema"]],
                "indexes": [i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])],
                "billing": table.get("BillingModeSummary", {}).get("BillingMode"),
                "ttl": ddb.describe_time_to_live(TableName=physical)["TimeToLiveDescription"],
            }
        elif spec["Type"] == "AWS::S3::Bucket":
            out["buckets"][logical] = describe_bucket(s3, physical)
        elif spec["Type"] == "AWS::IAM::Role":
            name = physical.split("/")[-1]
            role = iam.get_role(RoleName=name)["Role"]
            inline = {}
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                # moto's CloudFormation stores an inline policy as Python's repr of the dict.
                if isinstance(document, str):
                    document = ast.literal_eval(document)
                document["Statement"] = [s for s in document["Statement"] if s is not None]
                inline[policy] = document
            out["roles"][logical] = {
                "arn": role["Arn"],
                "trust": role["AssumeRolePolicyDocument"],
                "policies": inline,
            }
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    out["outputs"] = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()

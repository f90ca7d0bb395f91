#!/usr/bin/env python3
"""Creates the plain CloudFormation resources of a template in moto's CloudFormation, then reads
back with boto3 what was created.

Usage: cfn_check.py TEMPLATE STACK_NAME [LOGICAL_ID=PHYSICAL_ARN ...]
The SAM parts (functions, the HTTP API, alarms on them) are left out: moto does not run the SAM
transform. The named substitutions stand in for attributes of left-out resources (for instance
ExportFunctionRole=arn:aws:iam::123456789012:role/x), and parameters without a default get a
placeholder. Prints JSON: the stack status, and for each table its key schema and TTL, for each
bucket its ownership controls, public access block, encryption and policy.
"""
import json
import os
import sys

import boto3
from cfnlint.decode import decode_str

PLAIN = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::S3::BucketPolicy")


def client(service):
    # Everything goes to moto (the S3 endpoint), DynamoDB included: the stack lives there.
    endpoint = os.environ["AWS_ENDPOINT_URL_S3"]
    return boto3.client(service, endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"))


def substitute(node, replacements):
    """Replaces GetAtt of a left-out resource by the given ARN."""
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


def main():
    path, stack = sys.argv[1], sys.argv[2]
    replacements = dict(arg.split("=", 1) for arg in sys.argv[3:])
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
    parameters = []
    for name, spec in plain["Parameters"].items():
        if "Default" not in spec:
            value = {"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:alarms"}.get(name)
            if value is None:
                raise SystemExit(f"no placeholder for parameter {name}")
            parameters.append({"ParameterKey": name, "ParameterValue": value})
    for name, value in json.loads(os.environ.get("CFN_PARAMETERS", "{}")).items():
        parameters.append({"ParameterKey": name, "ParameterValue": value})
    cfn = client("cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(plain), Parameters=parameters)
    status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    created = {r["LogicalResourceId"]: r["PhysicalResourceId"]
               for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    out = {"status": status, "tables": {}, "buckets": {}}
    ddb, s3 = client("dynamodb"), client("s3")
    for logical, spec in resources.items():
        if logical not in created:
            continue
        physical = created[logical]
        if spec["Type"] == "AWS::DynamoDB::Table":
            table = ddb.describe_table(TableName=physical)["Table"]
            ttl = ddb.describe_time_to_live(TableName=physical)["TimeToLiveDescription"]
            out["tables"][logical] = {
                "keys": [k["AttributeName"] for k in table["KeySchema"]],
                "indexes": [i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])],
                "ttl": ttl,
            }
        elif spec["Type"] == "AWS::S3::Bucket":
            bucket = {"ownership": s3.get_bucket_ownership_controls(Bucket=physical)["OwnershipControls"]["Rules"]}
            bucket["public_access_block"] = s3.get_public_access_block(Bucket=physical)["PublicAccessBlockConfiguration"]
            bucket["encryption"] = s3.get_bucket_encryption(Bucket=physical)["ServerSideEncryptionConfiguration"]["Rules"]
            try:
                bucket["policy"] = json.loads(s3.get_bucket_policy(Bucket=physical)["Policy"])
            except s3.exceptions.ClientError:
                bucket["policy"] = None
            out["buckets"][logical] = bucket
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()

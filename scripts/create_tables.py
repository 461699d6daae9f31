#!/usr/bin/env python3
"""Creates the DynamoDB tables of template.yaml on a local DynamoDB API, and
prints each function's environment as the template sets it.

    create_tables.py --endpoint http://127.0.0.1:8000 [--template template.yaml]

template.yaml is the truth about resources: every `AWS::DynamoDB::Table` is
created with its attribute definitions, key schema, indexes, billing mode,
stream and time-to-live settings. CloudFormation generates real table names,
so a table is named by its logical id (e.g. `UsageTable`) unless the template
fixes `TableName` to a plain string.

Prints one JSON document on stdout:

    {"tables":    {"UsageTable": "UsageTable"},
     "functions": {"UsageQueryFunction": {"binary": "usage-query",
                                          "environment": {"USAGE_TABLE_NAME": "UsageTable"}}}}

A function's environment is `Properties.Environment.Variables` merged over
`Globals.Function.Environment.Variables`, with `!Ref`, `!Sub`, `!GetAtt` and
`!Join` resolved locally (`!Ref <Table>` is the local table name, `!Ref
<Parameter>` its default). A value that cannot be resolved locally is left
out, with a note on stderr. Creating a table that already exists is a no-op.
"""
import argparse
import json
import os
import re
import sys

import boto3
import yaml

LOCAL_ACCOUNT = "123456789012"
LOCAL_STACK = "rtc-usage-local"


class Intrinsic:
    """A CloudFormation short-form tag (`!Ref X`, `!Sub ...`), kept as data."""

    def __init__(self, fn: str, value):
        self.fn = fn
        self.value = value

    def __repr__(self) -> str:
        return f"!{self.fn} {self.value!r}"


class TemplateLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: TemplateLoader, suffix: str, node: yaml.Node) -> Intrinsic:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Intrinsic(suffix, value)


# Every `!Tag` (Ref, Sub, GetAtt, If, Join, ...) becomes an Intrinsic.
TemplateLoader.add_multi_constructor("!", _construct_tag)


class Unresolved(Exception):
    pass


class Resolver:
    def __init__(self, template: dict, region: str, table_names: dict):
        self.parameters = template.get("Parameters") or {}
        self.resources = template.get("Resources") or {}
        self.region = region
        self.table_names = table_names

    def pseudo(self, name: str):
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::StackName": LOCAL_STACK,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def ref(self, name: str) -> str:
        if name in self.table_names:
            return self.table_names[name]
        value = self.pseudo(name)
        if value is not None:
            return value
        param = self.parameters.get(name)
        if isinstance(param, dict) and "Default" in param:
            return str(self.resolve(param["Default"]))
        raise Unresolved(f"!Ref {name}")

    def get_att(self, name: str, attribute: str) -> str:
        if name in self.table_names:
            arn = f"arn:aws:dynamodb:{self.region}:{LOCAL_ACCOUNT}:table/{self.table_names[name]}"
            if attribute == "Arn":
                return arn
        raise Unresolved(f"!GetAtt {name}.{attribute}")

    def sub(self, text: str, variables: dict) -> str:
        def replace(match: re.Match) -> str:
            key = match.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in variables:
                return str(self.resolve(variables[key]))
            if "." in key:
                return self.get_att(*key.split(".", 1))
            return self.ref(key)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value):
        if isinstance(value, Intrinsic):
            return self.intrinsic(value.fn, value.value)
        if isinstance(value, dict):
            if len(value) == 1:
                (key, inner), = value.items()
                if key == "Ref":
                    return self.intrinsic("Ref", inner)
                if key.startswith("Fn::"):
                    return self.intrinsic(key[4:], inner)
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def intrinsic(self, fn: str, value):
        if fn == "Ref":
            return self.ref(self.resolve(value))
        if fn == "GetAtt":
            parts = value.split(".", 1) if isinstance(value, str) else self.resolve(value)
            return self.get_att(*parts)
        if fn == "Sub":
            if isinstance(value, list):
                return self.sub(value[0], value[1] if len(value) > 1 else {})
            return self.sub(value, {})
        if fn == "Join":
            separator, items = value
            return separator.join(str(self.resolve(i)) for i in self.resolve(items))
        raise Unresolved(f"!{fn}")


# What CreateTable accepts of a CloudFormation GlobalSecondaryIndex /
# LocalSecondaryIndex (CloudFormation also has e.g. ContributorInsightsSpecification).
INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


def create_table_request(name: str, props: dict) -> dict:
    request = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(kind):
            request[kind] = [{k: v for k, v in index.items() if k in INDEX_KEYS} for index in props[kind]]
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    stream = props.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return request


def note(message: str) -> None:
    print(f"create_tables: {message}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--dry-run", action="store_true", help="print the environments, create nothing")
    args = parser.parse_args()
    if not args.endpoint and not args.dry_run:
        parser.error("--endpoint (or AWS_ENDPOINT_URL_DYNAMODB) is required: this only ever targets a local API")

    with open(args.template, encoding="utf-8") as f:
        template = yaml.load(f, Loader=TemplateLoader)
    resources = template.get("Resources") or {}

    tables = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            fixed = (resource.get("Properties") or {}).get("TableName")
            tables[logical_id] = fixed if isinstance(fixed, str) else logical_id
        elif resource.get("Type") == "AWS::Serverless::SimpleTable":
            note(f"{logical_id}: AWS::Serverless::SimpleTable is not supported, skipped")
    if not tables:
        sys.exit(f"create_tables: no AWS::DynamoDB::Table in {args.template}")
    resolver = Resolver(template, args.region, tables)

    if not args.dry_run:
        client = boto3.client(
            "dynamodb",
            endpoint_url=args.endpoint,
            region_name=args.region,
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        )
        existing = set(client.list_tables()["TableNames"])
        for logical_id, name in tables.items():
            props = resolver.resolve(resources[logical_id].get("Properties") or {})
            if name in existing:
                note(f"{name}: exists, left as it is")
                continue
            client.create_table(**create_table_request(name, props))
            client.get_waiter("table_exists").wait(TableName=name)
            ttl = props.get("TimeToLiveSpecification")
            ttl_on = bool(ttl) and str(ttl.get("Enabled")).lower() == "true"
            if ttl_on:
                client.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )
            indexes = [i["IndexName"] for i in props.get("GlobalSecondaryIndexes") or []]
            note(
                f"{name}: created (keys {', '.join(k['AttributeName'] for k in props['KeySchema'])}"
                f"; indexes {', '.join(indexes) or 'none'}"
                f"; TTL {ttl['AttributeName'] if ttl_on else 'off'})"
            )

    global_env = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get(
        "Variables"
    ) or {}
    functions = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        props = resource.get("Properties") or {}
        variables = dict(global_env)
        variables.update(((props.get("Environment") or {}).get("Variables")) or {})
        environment = {}
        for key, value in variables.items():
            try:
                environment[key] = str(resolver.resolve(value))
            except Unresolved as why:
                note(f"{logical_id}: {key} = {why} has no local value, left out")
        binary = (((resource.get("Metadata") or {}).get("BuildProperties")) or {}).get("Binary")
        functions[logical_id] = {"binary": binary, "environment": environment}

    json.dump({"tables": tables, "functions": functions}, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main()

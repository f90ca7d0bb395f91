"""Checks OCSF records against the published OCSF schema of their class.

Reads NDJSON records on stdin. For each, builds the JSON Schema of its class (by `class_uid`)
with `ocsf-json-schema` (PyPI: it packages every OCSF release's schema and turns a class into
JSON Schema draft 2020-12, as schema.ocsf.io does) for the version in the record's
`metadata.version`, and validates the record with `jsonschema`. Prints one JSON line per invalid
record (`{"line", "class_uid", "errors"}`), then a summary `{"checked", "invalid"}`, and exits 1
when any record is invalid.

    python tests/support/ocsf/check.py < records.ndjson
"""

import json
import sys

from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema


def main() -> int:
    schemas = {}
    validators = {}
    checked = invalid = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        checked += 1
        version = record.get("metadata", {}).get("version", "")
        uid = record.get("class_uid")
        key = (version, uid)
        if key not in validators:
            if version not in schemas:
                schemas[version] = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=version))
            ocsf = schemas[version]
            name = ocsf.lookup_class_name_from_uid(class_uid=uid)
            validators[key] = Draft202012Validator(ocsf.get_class_schema(name, []))
        errors = sorted(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(record)'}: {e.message}"
            for e in validators[key].iter_errors(record)
        )
        if errors:
            invalid += 1
            print(json.dumps({"line": number, "class_uid": uid, "errors": errors[:20]}))
    print(json.dumps({"checked": checked, "invalid": invalid}))
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())

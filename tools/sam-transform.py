"""Prints template.yaml after the SAM transform, as CloudFormation JSON.

Usage: sam-transform.py [TEMPLATE]   (default: template.yaml next to tools/)

What CloudFormation would deploy, with samtranslator (the library SAM CLI
transforms with: aws-sam-translator 1.115.0, pinned by aws-sam-cli 1.170.0 of
local/lambda-tools.sh), offline: region us-east-1, account 123456789012, each
function's local CodeUri replaced by an s3:// placeholder as `sam package`
would, managed policy names resolved from the ARNs bundled with samtranslator.
tests/shape reads the result.
"""

import json
import os
import pathlib
import sys

import yaml
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.transform import transform

# The region of the boto3 session samtranslator opens for its pseudo parameters.
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::Partition": "aws", "AWS::StackName": "clearing-recon", "AWS::URLSuffix": "amazonaws.com"}


class BundledManagedPolicies:
    def load(self):
        return get_bundled_managed_policy_map("aws")


path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[1] / "template.yaml")
template = yaml.safe_load(path.read_text())
for name, resource in template.get("Resources", {}).items():
    if resource.get("Type") == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = f"s3://sam-package-placeholder/{name}.zip"
parameters = {k: v["Default"] for k, v in template.get("Parameters", {}).items() if "Default" in v}
parameters.update(PSEUDO)
json.dump(transform(template, parameters, BundledManagedPolicies()), sys.stdout, indent=1, sort_keys=True)
print()

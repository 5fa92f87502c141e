"""Where a tenant's attachments live off the node: one S3 bucket per tenant
database, reached with an S3 user whose policy opens that bucket only.

A bucket per tenant, not a prefix of a shared bucket: listing a prefix needs
``s3:ListBucket`` on the whole bucket narrowed by an ``s3:prefix`` condition,
which S3-compatible servers evaluate unevenly (moto's server refuses the
listing outright, measured in tests/object_store); a bucket is a resource
every server's policy engine matches exactly. What the tenant's admin can
read of its own storage options therefore opens its own objects and nothing
else: the isolation is the server's policy, not the secrecy of the key.

ORM-free and boto-free: names and the policy document, read by the engine
(which creates buckets and users with the server's admin key) and by the
tests that attack them.
"""

import json
import re

# S3 bucket names: 3-63 characters, lowercase letters, digits, hyphens.
_NOT_BUCKET_CHARACTERS = re.compile(r"[^a-z0-9-]+")
MAX_BUCKET_NAME = 63


class InvalidObjectStoreName(ValueError):
    pass


def bucket_name(prefix, dbname):
    """The bucket of database ``dbname``; ``prefix`` separates installations
    (and test runs) sharing one server."""
    name = _NOT_BUCKET_CHARACTERS.sub("-", f"{prefix}-{dbname}".lower()).strip("-")
    if not 3 <= len(name) <= MAX_BUCKET_NAME:
        raise InvalidObjectStoreName(
            f"bucket name {name!r} for database {dbname!r} is not 3-{MAX_BUCKET_NAME} characters"
        )
    return name


def user_name(bucket):
    """The S3 (IAM) user that owns ``bucket`` and nothing else."""
    return f"tenant-{bucket}"


def bucket_policy(bucket):
    """The only permissions of ``bucket``'s user: every S3 action on the
    bucket and its objects; nothing on other buckets, no bucket listing,
    no IAM."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        },
        sort_keys=True,
    )


def storage_options(endpoint_url, access_key, secret_key):
    """fs_storage's ``options`` for the s3 protocol (s3fs's keyword
    arguments)."""
    return {
        "endpoint_url": endpoint_url,
        "key": access_key,
        "secret": secret_key,
        "client_kwargs": {"region_name": "us-east-1"},
    }

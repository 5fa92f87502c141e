"""The platform's side of tenant object storage: with the S3 server's admin
key, make (and remove) a tenant's bucket and the user that opens it only
(names and policy in ipai_tenant_runtime/object_store.py).

Idempotent like every provisioning step: a rerun finds the bucket, the user
and the policy in place and issues a fresh key, deleting the user's older
ones, so a key never outlives the run that handed it out.
"""

import io
import json
import tarfile

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from odoo.addons.ipai_tenant_runtime import object_store

REGION = "us-east-1"
# Every call has a timeout; botocore retries with its own backoff.
_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3})

# The server's admin user is made by the first unauthenticated calls a fresh
# moto server accepts (INITIAL_NO_AUTH_ACTION_COUNT): exactly these three.
ADMIN_USER = "ipai-platform"
BOOTSTRAP_CALLS = 3


def client(service, endpoint_url, access_key, secret_key):
    return botocore.session.get_session().create_client(
        service,
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=_CLIENT_CONFIG,
    )


def bootstrap_admin(endpoint_url):
    """On a server started with INITIAL_NO_AUTH_ACTION_COUNT=3: the admin
    user, its policy and key, after which the server authenticates and
    authorizes every request. Returns (access key, secret)."""
    iam = client("iam", endpoint_url, "bootstrap", "bootstrap")
    iam.create_user(UserName=ADMIN_USER)
    iam.put_user_policy(
        UserName=ADMIN_USER,
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _exists(call, missing_codes, **kwargs):
    try:
        call(**kwargs)
        return True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in missing_codes:
            return False
        raise


def ensure_tenant_store(admin, bucket):
    """Bucket, user and policy of ``bucket``; returns a fresh (key, secret)
    of that user. ``admin`` is (endpoint_url, access key, secret)."""
    s3 = client("s3", *admin)
    iam = client("iam", *admin)
    user = object_store.user_name(bucket)
    if not _exists(s3.head_bucket, {"404", "NoSuchBucket"}, Bucket=bucket):
        s3.create_bucket(Bucket=bucket)
    if not _exists(iam.get_user, {"NoSuchEntity"}, UserName=user):
        iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user, PolicyName="own-bucket", PolicyDocument=object_store.bucket_policy(bucket)
    )
    for old in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def remove_tenant_store(admin, bucket):
    """The bucket with every object in it, and its user; nothing left when
    either is already gone."""
    s3 = client("s3", *admin)
    iam = client("iam", *admin)
    if _exists(s3.head_bucket, {"404", "NoSuchBucket"}, Bucket=bucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=bucket)
    user = object_store.user_name(bucket)
    if _exists(iam.get_user, {"NoSuchEntity"}, UserName=user):
        for old in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=old["AccessKeyId"])
        iam.delete_user_policy(UserName=user, PolicyName="own-bucket")
        iam.delete_user(UserName=user)


def bucket_size(admin, bucket):
    """Bytes stored in ``bucket`` (usage metrics)."""
    s3 = client("s3", *admin)
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        total += sum(item["Size"] for item in page.get("Contents", []))
    return total


def _keys(s3, bucket):
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            yield item["Key"], item["Size"]


def copy_bucket(admin, source, target):
    """Every object of ``source`` into ``target`` (made before with
    ``ensure_tenant_store``), copied by the server; a rerun copies again.
    The clone-with-data step's counterpart of ``filestore.copy``."""
    s3 = client("s3", *admin)
    copied = 0
    for key, _size in _keys(s3, source):
        s3.copy_object(Bucket=target, Key=key, CopySource={"Bucket": source, "Key": key})
        copied += 1
    return copied


def archive_bucket(admin, bucket, archive, folder="objects"):
    """Every object of ``bucket`` into the open tarfile ``archive``, under
    ``folder`` (a backup's counterpart of the filestore's tar)."""
    s3 = client("s3", *admin)
    for key, size in _keys(s3, bucket):
        member = tarfile.TarInfo(f"{folder}/{key}")
        member.size = size
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        archive.addfile(member, io.BytesIO(body))


def restore_bucket(admin, bucket, archive, folder="objects"):
    """The objects ``archive_bucket`` put in ``archive`` written back into
    ``bucket``; only regular files under ``folder``, with names that stay
    there (no '..', no absolute path)."""
    s3 = client("s3", *admin)
    prefix = f"{folder}/"
    written = 0
    for member in archive.getmembers():
        key = member.name[len(prefix) :]
        parts = key.split("/")
        if not member.isfile() or not member.name.startswith(prefix) or ".." in parts or not key:
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=archive.extractfile(member).read())
        written += 1
    return written

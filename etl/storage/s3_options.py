"""How S3 is reached beyond the standard AWS environment: the ``[s3]`` config section as plain values.

Kept apart from :mod:`.s3` so that settings can be read where boto3 (the ``s3`` extra) is not installed.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class S3Options:
    """Empty values defer to botocore's standard chain (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, profiles)."""

    endpoint_url: str = ""
    region: str = ""
    addressing_style: str = ""  # path for MinIO and Ceph; virtual or auto (botocore's default) for AWS
    max_attempts: int = 5  # requests per call, the first included, with botocore's backoff between them
    connect_timeout_seconds: float = 10.0  # to open a connection; a timeout is retried as a transient error
    read_timeout_seconds: float = 60.0  # between bytes of a response, not for the whole object

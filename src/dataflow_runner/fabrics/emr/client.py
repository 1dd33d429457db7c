"""boto3 sessions and clients for EMR and S3, and the translation of AWS errors.

Credentials follow the Go tool: both ``env`` → the AWS environment variables;
both ``iam`` → the EC2 instance role; both ``default`` (or both empty) → the
SDK's default chain (profiles, SSO, containers, instance role); anything else
→ static keys. The standard endpoint settings (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_EMR``, ``AWS_PROFILE`` ...) are honoured by boto3 itself.

Two EMR clients are kept: reads retry in botocore's adaptive mode (throttling,
5xx, network), while calls that create something (RunJobFlow,
AddJobFlowSteps) are sent once: a retry after an ambiguous failure could
launch a second cluster or add steps twice, so the fabric reconciles instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from dataflow_runner import __version__
from dataflow_runner.config.model import KeyPair
from dataflow_runner.config.redact import SECRETS
from dataflow_runner.errors import FabricError, FabricUnavailable

T = TypeVar("T")

_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
_TRANSIENT = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


class Ambiguous(FabricUnavailable):
    """The request may or may not have been carried out (a timeout, a dropped
    connection, a 5xx): check before sending it again."""


NO_REGION = "no AWS region: set 'region' in the config or AWS_REGION"


def session(credentials: KeyPair, region: str) -> Any:
    """A boto3 session with the credentials the config asks for, in ``region``; else
    in ``AWS_REGION`` (the variable the Go tool's SDK reads, which botocore does
    not), else wherever boto3 finds one (``AWS_DEFAULT_REGION``, the profile)."""
    import boto3

    mode = credentials.mode
    region_name = region.strip() or os.environ.get("AWS_REGION", "").strip() or None
    if mode == "static":
        SECRETS.add(credentials.secret_access_key)
        return boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            region_name=region_name,
        )
    if mode == "env":
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not key or not secret:
            raise FabricError(
                "credentials are 'env' but AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY are not both set"
            )
        token = os.environ.get("AWS_SESSION_TOKEN")
        for value in (secret, token):
            if value:
                SECRETS.add(value)
        return boto3.Session(
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name=region_name,
        )
    if mode == "iam":
        import botocore.credentials
        import botocore.session
        from botocore.utils import InstanceMetadataFetcher

        core = botocore.session.Session()
        provider = botocore.credentials.InstanceMetadataProvider(
            iam_role_fetcher=InstanceMetadataFetcher(timeout=2, num_attempts=3)
        )
        core.register_component(
            "credential_provider", botocore.credentials.CredentialResolver(providers=[provider])
        )
        return boto3.Session(botocore_session=core, region_name=region_name)
    return boto3.Session(region_name=region_name)


def clients(sess: Any, service: str) -> tuple[Any, Any]:
    """(a client that retries, a client that sends once) for ``service``.

    ``total_max_attempts`` counts the first request: botocore's older
    ``max_attempts`` counts retries, so ``max_attempts: 1`` would send a request
    that got no answer twice, and a RunJobFlow or AddJobFlowSteps whose answer
    was lost would create a second cluster or second steps."""
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    agent = f"dataflow-runner/{__version__}"

    def client(mode: str, attempts: int) -> Any:
        retries = {"mode": mode, "total_max_attempts": attempts}
        settings = Config(
            retries=retries, user_agent_extra=agent, connect_timeout=10, read_timeout=60
        )
        return sess.client(service, config=settings)

    try:
        return client("adaptive", 10), client("standard", 1)
    except NoRegionError as exc:  # found when the client is made, before any call
        raise FabricError(NO_REGION) from exc


def call(what: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Call ``fn`` and translate AWS's exceptions into this tool's."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    try:
        return fn(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or str(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _THROTTLING:
            raise FabricUnavailable(f"AWS throttled {what} ({code})") from exc
        if code in _TRANSIENT or status >= 500:
            raise Ambiguous(
                f"{what} failed with a server error ({code or status}): {message}"
            ) from exc
        raise FabricError(f"AWS rejected {what}: {code}: {message}") from exc
    except NoCredentialsError as exc:
        raise FabricError(
            "no AWS credentials found (set them in the config's credentials, "
            "the environment, or a profile)"
        ) from exc
    except NoRegionError as exc:
        raise FabricError(NO_REGION) from exc
    except EndpointConnectionError as exc:
        # Nothing reached AWS: safe to send again.
        raise FabricUnavailable(f"cannot reach AWS for {what}: {exc}") from exc
    except (ReadTimeoutError, ConnectionClosedError) as exc:
        raise Ambiguous(f"{what} got no answer: {exc}") from exc
    except BotoCoreError as exc:
        raise FabricUnavailable(f"{what} failed: {exc}") from exc

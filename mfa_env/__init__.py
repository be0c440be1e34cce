"""mfa-env: trade an MFA code for an AWS STS session and hand it to the calling shell."""

__version__ = "0.1.0"

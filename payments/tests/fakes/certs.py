"""Throw-away RSA key + self-signed certificate standing in for Safaricom's M-Pesa public certificate."""

from __future__ import annotations

import datetime
import functools
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@functools.lru_cache(maxsize=1)
def test_key_and_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    """Generated once per test process (2048-bit keygen is the slow part)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apicrypt.safaricom.co.ke (test)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def write_test_certificate(directory: Path, *, der: bool = False) -> tuple[rsa.RSAPrivateKey, Path]:
    key, pem = test_key_and_cert()
    path = directory / ("mpesa-test-cert.cer" if der else "mpesa-test-cert.pem")
    if der:
        path.write_bytes(
            x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
        )
    else:
        path.write_bytes(pem)
    return key, path
